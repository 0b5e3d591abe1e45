import type { NodeRegistry } from '../topology/node-registry.js';
import type { ShardNode } from '../topology/shard-node.js';

/**
 * Follows promotions done by the operator's tooling (Patroni, CloudNativePG, `pg_promote()`), from what
 * the last checks saw:
 * - a replica that is up and out of recovery takes writes over from the configured primary (even if
 *   the old primary still answers: it was promoted on purpose, the old one is diverged and serves nothing);
 * - an acting primary that went back into recovery (demoted, e.g. a failback) hands over to the node
 *   that is out of recovery, the most advanced one first;
 * - a configured primary never takes back over from a promoted replica that is merely down: that needs
 *   the operator (demote or rewind), then this rule or a restart.
 * Returns the shards whose acting primary changed.
 */
export function discoverPrimaries(registry: NodeRegistry): string[] {
  const changed: string[] = [];
  for (const shard of registry.shardNames) {
    const acting = registry.acting(shard).primary;
    const { primary: configured, replicas } = registry.configured(shard);
    const writable = [configured, ...replicas].filter((n) => n.health.status === 'up' && n.health.inRecovery === false);
    const next = successor(acting, configured, writable);
    if (next && next !== acting) {
      registry.setActingPrimary(shard, next);
      changed.push(shard);
    } else if (next === acting) {
      registry.setActingPrimary(shard, acting); // refresh which replicas may serve reads
    }
  }
  return changed;
}

function successor(acting: ShardNode, configured: ShardNode, writable: ShardNode[]): ShardNode | undefined {
  const byLsn = (a: ShardNode, b: ShardNode) => ((b.health.lsn ?? 0n) > (a.health.lsn ?? 0n) ? 1 : -1);
  const promoted = writable.filter((n) => n !== configured).sort(byLsn);
  if (writable.includes(acting)) return acting === configured && promoted.length ? promoted[0] : acting;
  if (acting.health.status === 'up' && acting.health.inRecovery === true) return [...writable].sort(byLsn)[0];
  return promoted.find((n) => n !== acting);
}
