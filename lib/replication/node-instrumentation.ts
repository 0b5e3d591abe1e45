import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error.js';
import { ShardUnavailableError } from '../errors/shard-unavailable.error.js';
import { ShardingError } from '../errors/sharding.error.js';
import { connectionFailure, failureReason, type ConnectionFailure } from '../topology/connection-failure.js';
import type { ShardNode } from '../topology/shard-node.js';
import { isWriteSql } from '../topology/write-sql.js';
import { confirmNodeFailure } from './failure-confirmation.js';

type Execute = (
  query: unknown,
  params?: unknown,
  method?: unknown,
  ctx?: unknown,
  loggerContext?: unknown,
) => Promise<unknown>;
type Begin = (options?: { ctx?: unknown }) => Promise<unknown>;
type Commit = (ctx: { savepointName?: string }, ...rest: unknown[]) => Promise<void>;
type Stream = (query: unknown, params?: unknown, ...rest: unknown[]) => AsyncIterableIterator<unknown>;

/** The connection methods every statement of a node goes through (MikroORM's AbstractSqlConnection). */
interface NodeConnectionMethods {
  execute: Execute;
  begin: Begin;
  commit: Commit;
  stream: Stream;
}

/** What the layer above decides for a node's statements (it knows the request; this layer does not). */
export interface InstrumentationHooks {
  /**
   * A read outside a transaction cannot run on `node` (its circuit is open, or it just failed because
   * the node went away): another node of the shard to run it on, or undefined to fail.
   */
  rerouteRead(node: ShardNode): ShardNode | undefined;
  /** After a statement outside a transaction succeeded on `node` (e.g. to record a WAL position). */
  afterStatement?(node: ShardNode): Promise<void> | void;
  /** Bound of the probe that confirms a node failure (the health monitor's check timeout). */
  probeTimeoutMs: number;
}

const unguarded = new WeakMap<ShardNode, Execute>();

/**
 * Wraps the node's connection, the one place every statement, transaction and stream of its
 * EntityManagers, repositories and QueryBuilders passes: `execute` (autocommit statements and statements
 * inside transactions), `begin` (pool connect + BEGIN of a flush or `transactional()`), `commit` and
 * `stream`. It counts statements, errors and statements in flight, and turns a connection failure into
 * a named error at once, whatever the path:
 * - the server refused or never answered a new connection: the node's circuit opens now, the caller
 *   gets `ShardUnavailableError`;
 * - an open connection broke: the caller gets `ShardUnavailableError` now (or `CommitOutcomeUnknownError`
 *   when a COMMIT or an autocommit write was in flight: it may have been applied), and a probe on the
 *   node's control connection decides whether the node is down for everyone (one killed backend is not);
 * - anything else (SQL, constraints, a protocol error about one bad value) is the statement's own error.
 * While the circuit is open, statements fail fast instead of waiting for a dead server, except reads
 * that the hooks reroute to another node (once: a rerouted read is never rerouted again). Statements
 * inside a transaction are never rerouted.
 */
export function instrumentNode(node: ShardNode, hooks: InstrumentationHooks): void {
  const connection = node.orm.em.getConnection() as unknown as NodeConnectionMethods;
  const original = connection.execute.bind(connection);
  unguarded.set(node, original);
  // MikroORM wraps whatever a statement throws in a DriverException: ours must reach the caller as they are
  const driver = node.orm.em.getDriver() as unknown as { convertException(e: unknown): unknown };
  const convert = driver.convertException.bind(driver);
  driver.convertException = (error) => (error instanceof ShardingError ? error : convert(error));
  const { health } = node;
  const noteFailure = (error: unknown) => noteConnectionFailure(node, error, hooks.probeTimeoutMs);
  // Every statement of the node passes here: one derived promise and one failure handler per statement
  // (no async function layer, which would add two promises).
  const settled = (result: unknown) => {
    health.inFlight--;
    return result;
  };
  const settledThenRecord = (result: unknown) => {
    health.inFlight--;
    const pending = hooks.afterStatement!(node);
    return pending ? pending.then(() => result) : result;
  };
  connection.execute = (query, params, method, ctx, loggerContext) => {
    if (health.status === 'down') {
      const other = ctx ? undefined : hooks.rerouteRead(node);
      if (!other) return Promise.reject(unavailable(node));
      return runElsewhere(other, [query, params, method, undefined, loggerContext], hooks);
    }
    health.counters.queries++;
    health.inFlight++;
    const failed = (error: unknown) => {
      health.inFlight--;
      health.counters.errors++;
      const failure = noteFailure(error);
      if (!failure) throw error;
      if (ctx) throw unavailable(node, error); // the transaction is gone with its connection: nothing committed
      if (failure === 'lost' && isWriteSql(sqlOf(query))) throw outcomeUnknown(node, 'a write', error);
      const other = hooks.rerouteRead(node); // a read is retried once, on another eligible node
      if (!other) throw unavailable(node, error);
      return runElsewhere(other, [query, params, method, undefined, loggerContext], hooks);
    };
    let pending: Promise<unknown>;
    try {
      pending = original(query, params, method, ctx, loggerContext);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(!ctx && hooks.afterStatement ? settledThenRecord : settled, failed);
  };

  const begin = connection.begin.bind(connection);
  // What a failed transaction step throws: a named error for a lost connection, else MikroORM's
  // exception for the server's error (BEGIN, COMMIT and savepoints run outside execute(), so MikroORM
  // would let pg's raw error through: a deferred constraint at COMMIT, "too many clients" at connect).
  const inTransaction = (error: unknown) => unavailable(node, error);
  const transactionFailure = (error: unknown, lost: (error: unknown) => Error) => {
    health.counters.errors++;
    return noteFailure(error) ? lost(error) : convert(error);
  };
  connection.begin = (options) => {
    // a savepoint (ctx) runs on the transaction's own connection: no new connection to refuse; lost, the
    // whole transaction is gone
    if (!options?.ctx && health.status === 'down') return Promise.reject(unavailable(node));
    return begin(options).catch((e: unknown) => Promise.reject(transactionFailure(e, inTransaction)));
  };

  const commit = connection.commit.bind(connection);
  connection.commit = (ctx, ...rest) => {
    // releasing a savepoint commits nothing yet; a COMMIT lost in flight may have been applied
    const lost = ctx?.savepointName ? inTransaction : (error: unknown) => outcomeUnknown(node, 'COMMIT', error);
    return commit(ctx, ...rest).catch((e: unknown) => Promise.reject(transactionFailure(e, lost)));
  };

  const stream = connection.stream.bind(connection);
  connection.stream = async function* (query, params, ...rest) {
    if (health.status === 'down') throw unavailable(node);
    try {
      yield* stream(query, params, ...rest);
    } catch (error) {
      health.counters.errors++;
      if (!noteFailure(error)) throw error;
      throw unavailable(node, error);
    }
  };
}

/** Runs a rerouted read on `other` with its counters, without rerouting it again. */
async function runElsewhere(
  other: ShardNode,
  args: Parameters<Execute>,
  hooks: InstrumentationHooks,
): Promise<unknown> {
  const execute = unguarded.get(other);
  if (!execute) throw new Error(`node ${other.id} is not instrumented`);
  const { health } = other;
  health.counters.queries++;
  health.counters.retries++;
  health.inFlight++;
  let result: unknown;
  try {
    result = await execute(...args);
  } catch (error) {
    health.counters.errors++;
    if (!noteConnectionFailure(other, error, hooks.probeTimeoutMs)) throw error;
    throw unavailable(other, error);
  } finally {
    health.inFlight--;
  }
  await hooks.afterStatement?.(other);
  return result;
}

/**
 * Runs one statement on the node directly: no counting, no circuit, no rerouting (WAL-position reads
 * must reach a node whose circuit is open).
 */
export function executeOnNode<T>(node: ShardNode, sql: string, params: unknown[] = []): Promise<T> {
  const execute = unguarded.get(node);
  if (execute) return execute(sql, params, 'all') as Promise<T>;
  return node.orm.em.getConnection().execute(sql, params, 'all') as Promise<T>;
}

/**
 * What a failed statement says about `node`: a refused connection opens its circuit now, a broken one has
 * it confirmed by a probe; undefined when the statement, not the connection, failed.
 */
function noteConnectionFailure(node: ShardNode, error: unknown, probeTimeoutMs: number): ConnectionFailure | undefined {
  const failure = connectionFailure(error);
  if (failure === 'unreachable') node.health.markDown(failureReason(error));
  else if (failure === 'lost') confirmNodeFailure(node, failureReason(error), probeTimeoutMs);
  return failure;
}

function sqlOf(query: unknown): string {
  if (typeof query === 'string') return query;
  const sql = (query as { sql?: unknown } | undefined)?.sql;
  return typeof sql === 'string' ? sql : String(query);
}

function unavailable(node: ShardNode, cause?: unknown): ShardUnavailableError {
  const why = cause
    ? `it failed: ${failureReason(cause)}`
    : `its circuit is open since the last failure (${node.health.error ?? 'unreachable'})`;
  return new ShardUnavailableError(
    `Node ${node.id} (${node.address}) is unavailable: ${why}. ` +
      (node.health.role === 'primary'
        ? 'Nothing was committed. Writes to this shard fail until the primary answers again (the health monitor re-checks it) or a replica is promoted.'
        : 'Reads go to other replicas or the primary while it is down.'),
    node.shard,
    node.id,
    cause === undefined ? undefined : { cause },
  );
}

function outcomeUnknown(node: ShardNode, what: string, cause: unknown): CommitOutcomeUnknownError {
  return new CommitOutcomeUnknownError(
    `The connection to ${node.id} (${node.address}) was lost while ${what} was in flight (${failureReason(cause)}): ` +
      'it may or may not have been applied. Do not retry it blindly: read back what it wrote (or make it idempotent), then decide.',
    node.shard,
    node.id,
    { cause },
  );
}
