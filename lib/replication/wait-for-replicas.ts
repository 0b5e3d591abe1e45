import { ReplicationTimeoutError } from '../errors/replication-timeout.error.js';
import type { NodeRegistry } from '../topology/node-registry.js';
import type { ShardNode } from '../topology/shard-node.js';

/** Options of {@link waitForReplicas}. */
export interface WaitForReplicasOptions {
  /** Only these shards. @default every shard */
  shards?: readonly string[];
  /** Give up (with `ReplicationTimeoutError`) after this long. @default 30000 */
  timeoutMs?: number;
}

/**
 * Resolves once every replica of the chosen shards has replayed its primary's WAL up to the
 * position the primary had when this was called: everything committed before is visible there.
 */
export async function waitForReplicas(registry: NodeRegistry, options: WaitForReplicasOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  await Promise.all(
    (options.shards ?? registry.shardNames).map(async (shard) => {
      // the acting primary, and the replicas that follow it (after a promotion the old primary is not one)
      const { primary, replicas } = registry.acting(shard);
      if (!replicas.length) return;
      // the insert position: with synchronous_commit off a commit may not be written yet
      const [{ lsn }] = await primary
        .fork()
        .execute<{ lsn: string }[]>('select pg_current_wal_insert_lsn()::text as lsn');
      await Promise.all(replicas.map((replica) => waitForReplay(replica, lsn, deadline)));
    }),
  );
}

async function waitForReplay(replica: ShardNode, lsn: string, deadline: number): Promise<void> {
  for (;;) {
    let lastError = '';
    try {
      const [row] = await replica
        .fork()
        .execute<{ done: boolean | null }[]>('select pg_last_wal_replay_lsn() >= ?::pg_lsn as done', [lsn]);
      if (row.done) return;
    } catch (error) {
      lastError = ` (last error: ${(error as Error).message})`;
    }
    if (Date.now() > deadline) {
      throw new ReplicationTimeoutError(
        `Replica ${replica.id} (${replica.address}) has not replayed its primary's WAL up to ${lsn} in time${lastError}. ` +
          'Check that it is running and streaming (pg_stat_wal_receiver), or raise timeoutMs.',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
