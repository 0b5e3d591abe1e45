import type { ShardNode } from './shard-node.js';

/** What one node said about itself, for topology and health pages. */
export interface NodeProbe {
  id: string;
  shard: string;
  role: ShardNode['role'];
  address: string;
  reachable: boolean;
  /** `inet_server_port()`: the port the server itself reports. */
  serverPort?: number;
  /** `pg_is_in_recovery()`: true on a working replica, false on a primary. */
  inRecovery?: boolean;
  /** A replica's WAL receiver is streaming from its primary. */
  streaming?: boolean;
  /** Why the node did not answer (no password in it). */
  error?: string;
  latencyMs: number;
}

const PROBE_SQL = `select inet_server_port() as port, pg_is_in_recovery() as recovery,
  coalesce((select status = 'streaming' from pg_stat_wal_receiver), false) as streaming`;

/** Runs one small query on the node over its control connection (not the application's pool), bounded by `timeoutMs`. */
export async function probeNode(node: ShardNode, timeoutMs: number): Promise<NodeProbe> {
  const base = { id: node.id, shard: node.shard, role: node.role, address: node.address };
  const started = performance.now();
  try {
    const [row] = await node.control.query<{ port: number; recovery: boolean; streaming: boolean }>(
      PROBE_SQL,
      timeoutMs,
    );
    const latencyMs = performance.now() - started;
    return {
      ...base,
      reachable: true,
      serverPort: row.port,
      inRecovery: row.recovery,
      streaming: row.streaming,
      latencyMs,
    };
  } catch (error) {
    return { ...base, reachable: false, error: (error as Error).message, latencyMs: performance.now() - started };
  }
}
