import { LIBRARY_TABLES } from '../topology/library-tables.js';
import type { ShardNode } from '../topology/shard-node.js';

const TABLE = LIBRARY_TABLES.transactions;

/**
 * Statements take MikroORM's `?` placeholders (run through the node's ORM connection).
 *
 * The commit decisions of cross-shard transactions, on the shard that decided each one: a row is inserted
 * by the coordinator's own local transaction, so the decision becomes durable exactly when that
 * transaction commits (the commit point). Rows are removed once every participant is resolved.
 */
export const DECISION_SQL = {
  create:
    `create table if not exists ${TABLE} (` +
    'xid xid8 primary key, participants text not null, decided_at timestamptz not null default now())',
  /** Inside the coordinator's transaction: its own id is the decision's key. */
  insert: `insert into ${TABLE} (xid, participants) values (pg_current_xact_id(), ?)`,
  currentXid: 'select pg_current_xact_id()::text as xid',
  /** After PREPARE TRANSACTION, on its session: did it prepare (it rolls back silently in an aborted transaction)? */
  isPrepared: 'select exists(select 1 from pg_prepared_xacts where gid = ?) as prepared',
  remove: `delete from ${TABLE} where xid = ?::xid8`,
  /** Decisions old enough to be checked for removal (when the table exists). */
  settledCandidates: `select xid::text as xid, participants from ${TABLE} where decided_at < now() - make_interval(secs => ?::float8 / 1000)`,
  tableExists: `select to_regclass('${TABLE}') is not null as exists`,
  /**
   * Recovery's question, in one statement so its answers share one snapshot: has the transaction ended
   * (`ended`: it is not running in that snapshot), and is its decision row there (`found`: a committed
   * row is visible exactly when its transaction ended before the snapshot). Read apart, a decision that
   * commits between the row read and the status read looks like a commit without a row.
   * pg_xact_status fails (22023) for an id beyond the server's counter.
   */
  verdict:
    'select pg_xact_status(?::xid8) as status, pg_visible_in_snapshot(?::xid8, pg_current_snapshot()) as ended, ' +
    `exists(select 1 from ${TABLE} where xid = ?::xid8) as found`,
  /** The same, when the table does not exist. */
  verdictNoTable:
    'select pg_xact_status(?::xid8) as status, pg_visible_in_snapshot(?::xid8, pg_current_snapshot()) as ended, ' +
    'false as found',
  /**
   * What became of a transaction id (committed, aborted, in progress, or null when too old to know), for a
   * control connection (pg's own placeholders).
   */
  statusOnControl: 'select pg_xact_status($1::xid8) as status',
} as const;

const ensured = new WeakSet<ShardNode>();

/** Creates the decision table on the node once per process (idempotent; concurrent creations tolerated). */
export async function ensureDecisionTable(node: ShardNode, timeoutMs: number): Promise<void> {
  if (ensured.has(node)) return;
  try {
    await node.control.query(DECISION_SQL.create, timeoutMs);
  } catch (error) {
    // two processes creating it at once: one of them loses on the catalog's unique index
    const code = (error as { code?: string }).code;
    if (code !== '23505' && code !== '42P07') throw error;
  }
  ensured.add(node);
}

export function encodeParticipants(shards: readonly string[]): string {
  return shards.map(encodeURIComponent).join(',');
}

export function decodeParticipants(text: string): string[] {
  return text ? text.split(',').map(decodeURIComponent) : [];
}
