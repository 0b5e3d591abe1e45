import type { NodeQueryObserver } from '../topology/node-orm.factory.js';
import { ReadOnlyContextError } from '../errors/read-only-context.error.js';
import { currentFrame } from './context-store.js';

/** Statements that write nothing: reads and transaction control. */
const NOT_A_WRITE =
  /^\s*(\(?\s*select|show|explain|values|set|reset|begin|start\s+transaction|commit|rollback|savepoint|release|deallocate|discard)\b/i;
const WITH_WRITE = /^\s*with\b[\s\S]*\b(insert|update|delete|merge)\b/i;

/** True when a statement may change data. */
export function isWriteSql(sql: string): boolean {
  // MikroORM's reads start with exactly this: the answer NOT_A_WRITE gives, without running a regex
  if (sql.startsWith('select ')) return false;
  if (/^\s*with\b/i.test(sql)) return WITH_WRITE.test(sql);
  return !NOT_A_WRITE.test(sql);
}

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
  frame.scope.markWritten(node.shard);
};
