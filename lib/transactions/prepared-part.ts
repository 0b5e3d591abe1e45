import { executeOnNode } from '../replication/node-instrumentation.js';
import type { ShardNode } from '../topology/shard-node.js';
import { gidLiteral } from './global-transaction-id.js';

/** SQLSTATE of COMMIT/ROLLBACK PREPARED for an id that is not prepared (any more). */
const UNDEFINED_OBJECT = '42704';
/** SQLSTATE of a prepared transaction another session is ending at this moment ("... is busy"). */
export const PREPARED_BUSY = '55000';

/**
 * COMMIT PREPARED / ROLLBACK PREPARED on `node`: true when this call ended the part, false when it was no
 * longer prepared (its coordinator, or a recovery run, ended it first — the decision is one, so the same way).
 */
export async function endPrepared(node: ShardNode, how: 'commit' | 'rollback', gid: string): Promise<boolean> {
  try {
    await executeOnNode(node, `${how} prepared ${gidLiteral(gid)}`);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === UNDEFINED_OBJECT) return false;
    throw error;
  }
}
