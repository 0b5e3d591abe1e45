import { failureReason } from '../topology/connection-failure.js';
import type { ShardNode } from '../topology/shard-node.js';
import { checkNode } from './node-check.js';

/** Probes in flight, one per node: a burst of failures on one node asks the server once. */
const probing = new WeakMap<ShardNode, Promise<void>>();

/**
 * A connection to `node` broke: the node may be down, or only that connection was (a backend killed
 * by `pg_terminate_backend`, an idle connection dropped by a proxy). Asks the node on its control
 * connection (not the application's pool) and opens its circuit only if that fails too. Returns the
 * probe (callers need not wait for it: the failed caller already has its error).
 */
export function confirmNodeFailure(node: ShardNode, reason: string, timeoutMs: number): Promise<void> {
  const running = probing.get(node);
  if (running) return running;
  if (node.health.isDown) return Promise.resolve();
  const probe = checkNode(node, timeoutMs).then(
    () => undefined,
    (error: unknown) => node.health.markDown(`${reason}; the check that followed: ${failureReason(error)}`),
  );
  const tracked = probe.finally(() => probing.delete(node));
  probing.set(node, tracked);
  return tracked;
}
