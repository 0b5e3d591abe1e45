import { parseLsn } from '../topology/lsn.js';
import type { ShardNode } from '../topology/shard-node.js';

/** What one health check saw. */
export interface NodeObservation {
  inRecovery: boolean;
  /** Replay LSN on a replica, insert LSN on a primary. */
  lsn: bigint | undefined;
  /** 0 on a primary, and on a replica that has replayed all it received. */
  lagMs: number | undefined;
}

/*
 * A replica's lag: 0 when it has replayed everything it received; else how old the last replayed
 * transaction is. (After a long idle period on the primary this reads high for the moment it takes
 * to replay the first new transaction.)
 */
const CHECK_SQL = `select pg_is_in_recovery() as recovery,
  (case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_insert_lsn() end)::text as lsn,
  case when not pg_is_in_recovery() then 0
       when pg_last_wal_receive_lsn() is not null and pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() then 0
       else extract(epoch from (clock_timestamp() - pg_last_xact_replay_timestamp())) * 1000 end as lag_ms`;

/** Asks a node what it is and how far it has got, on its control connection, bounded by `timeoutMs`. */
export async function checkNode(node: ShardNode, timeoutMs: number): Promise<NodeObservation> {
  const [row] = await node.control.query<{ recovery: boolean; lsn: string | null; lag_ms: string | number | null }>(
    CHECK_SQL,
    timeoutMs,
  );
  const lag = row.lag_ms === null ? undefined : Math.max(0, Math.round(Number(row.lag_ms)));
  return { inRecovery: row.recovery, lsn: parseLsn(row.lsn), lagMs: lag };
}
