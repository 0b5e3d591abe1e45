import type { NodeQueryObserver } from '../topology/node-orm.factory.js';
import { ReadOnlyContextError } from '../errors/read-only-context.error.js';
import { isWriteSql } from '../topology/write-sql.js';
import { currentFrame } from './context-store.js';

/**
 * The last line of defence, on every SQL statement any EntityManager, repository or QueryBuilder
 * of a node sends (raw Kysely clients excepted): inside a read-only call, or on a replica, a write
 * is refused before it leaves the process; on a primary, a write marks its shard written in the
 * current context, so later replica reads there go to the primary.
 */
export const guardQuery: NodeQueryObserver = (node, sql) => {
  // a read needs no context: checked first, so reads skip the AsyncLocalStorage lookup
  if (!isWriteSql(sql)) return;
  const frame = currentFrame();
  if (!frame) return;
  if (frame.readOnly || node.health.role === 'replica') {
    throw new ReadOnlyContextError(
      `${frame.caller} tried to write (${sql.trim().split(/\s+/, 2).join(' ')} ...) ${frame.readOnly ? 'in a read-only call' : ''} on ${node.id}; it was not sent. ` +
        'Writes belong to a method without @ReadReplica() (it runs on the primary), or a run() without readOnly.',
    );
  }
  // a write left running after its cross-shard transaction ended would commit on its own
  if (frame.transaction?.ended && frame.transactionEm) throw frame.transaction.endedError(frame.caller);
  frame.scope.markWritten(node.shard);
};
