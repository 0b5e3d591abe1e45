import type { NodeRole } from './shard-node.js';

/** Per-node counters, readable from `NodeRegistry.health()`. */
export interface NodeCounters {
  /** Statements sent to this node by the ORM (routed calls, repositories, QueryBuilders, raw execute). */
  queries: number;
  /** Statements that failed on this node (any error, SQL errors included). */
  errors: number;
  /** Reads that wanted a replica of this node's shard but were served by this primary (no eligible replica). */
  fallbacks: number;
  /** Reads served by this node after they failed on another node of its shard (the node went away). */
  retries: number;
}

/** A node's state as the health monitor and the routed queries see it: what `NodeRegistry.health()` returns. */
export interface NodeHealthReport {
  id: string;
  shard: string;
  /** The role given in the configuration. */
  configuredRole: NodeRole;
  /** The role it plays now: a promoted replica is `primary`, a demoted primary `replica`. */
  role: NodeRole;
  /** `unknown` until the first check; `down` while its circuit is open. */
  status: 'up' | 'down' | 'unknown';
  /** `postgresql://user@host:port/db`, never with a password. */
  address: string;
  /** A replica's replay delay in ms (0 when it has replayed all it received); 0 on a primary. */
  lagMs?: number;
  /** WAL position: replayed (replica) or inserted (primary), as PostgreSQL prints it (`0/3000148`). */
  lsn?: string;
  /** When the node was last checked (ISO time). */
  checkedAt?: string;
  /** Since when the circuit is open (ISO time). */
  downSince?: string;
  /** Why it is down (no password in it). */
  error?: string;
  /** Statements in flight right now. */
  inFlight: number;
  counters: NodeCounters;
  /**
   * The application's pool of connections to the node (absent before its first use): open connections,
   * idle ones, and callers waiting for one. After traffic stops, `idle` returns to `total`.
   */
  pool?: { total: number; idle: number; waiting: number };
  /**
   * Prepared parts of cross-shard transactions found on this node (a primary) by the last recovery run and
   * not resolved by it (absent before the first run): above 0 for long means a deciding shard is unreachable.
   */
  preparedTransactions?: number;
}

/**
 * The mutable health of one node, shared by the monitor (which checks it), the query instrumentation
 * (which counts and opens the circuit on connection failures) and routing (which skips nodes that are down,
 * lagging or behind a consistency token). Plain fields: routing reads them on every call.
 */
export class NodeHealth {
  status: 'up' | 'down' | 'unknown' = 'unknown';
  /** The role routing gives the node now (changes on promotion). */
  role: NodeRole;
  /** `pg_is_in_recovery()` at the last check. */
  inRecovery: boolean | undefined;
  /** Replay LSN (replica) or insert LSN (primary) at the last check, as a number. */
  lsn: bigint | undefined;
  lagMs: number | undefined;
  checkedAt = 0;
  downSince = 0;
  error: string | undefined;
  inFlight = 0;
  /** Unresolved prepared transactions of ours at the last recovery run (see the report). */
  preparedTransactions: number | undefined;
  readonly counters: NodeCounters = { queries: 0, errors: 0, fallbacks: 0, retries: 0 };
  /** Told once when the circuit opens and once when it closes again (the health monitor logs both). */
  onChange: ((status: 'down' | 'up', reason?: string) => void) | undefined;

  constructor(readonly configuredRole: NodeRole) {
    this.role = configuredRole;
  }

  get isDown(): boolean {
    return this.status === 'down';
  }

  /** Opens the circuit: routing skips the node until a check succeeds. */
  markDown(reason: string, now = Date.now()): void {
    const opened = this.status !== 'down';
    if (opened) this.downSince = now;
    this.status = 'down';
    this.error = reason;
    if (opened) this.onChange?.('down', reason);
  }

  /** Closes the circuit. */
  markUp(now = Date.now()): void {
    const closed = this.status === 'down';
    this.status = 'up';
    this.downSince = 0;
    this.error = undefined;
    this.checkedAt = now;
    if (closed) this.onChange?.('up');
  }

  /** Raises the known LSN (never lowers it: answers can arrive out of order). */
  advanceLsn(lsn: bigint): void {
    if (this.lsn === undefined || lsn > this.lsn) this.lsn = lsn;
  }
}
