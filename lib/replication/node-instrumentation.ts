import { ShardUnavailableError } from '../errors/shard-unavailable.error.js';
import { ShardingError } from '../errors/sharding.error.js';
import type { ShardNode } from '../topology/shard-node.js';
import { failureReason, isConnectionFailure } from './connection-failure.js';

type Execute = (
  query: unknown,
  params?: unknown,
  method?: unknown,
  ctx?: unknown,
  loggerContext?: unknown,
) => Promise<unknown>;

/** What the layer above decides for a node's statements (it knows the request; this layer does not). */
export interface InstrumentationHooks {
  /**
   * A read outside a transaction cannot run on `node` (its circuit is open, or it just failed because
   * the node went away): another node of the shard to run it on, or undefined to fail.
   */
  rerouteRead(node: ShardNode): ShardNode | undefined;
  /** After a statement outside a transaction succeeded on `node` (e.g. to record a WAL position). */
  afterStatement?(node: ShardNode): Promise<void> | void;
}

const unguarded = new WeakMap<ShardNode, Execute>();

/**
 * Wraps the node's connection `execute` (every statement of its EntityManagers, repositories and
 * QueryBuilders goes through it): counts statements, errors and statements in flight; a connection
 * failure opens the node's circuit and is reported as `ShardUnavailableError`; while the circuit is open,
 * statements fail fast instead of waiting for a dead server, except reads that the hooks reroute to another
 * node (once: a rerouted read is never rerouted again). Statements inside a transaction are never rerouted.
 */
export function instrumentNode(node: ShardNode, hooks: InstrumentationHooks): void {
  const connection = node.orm.em.getConnection() as unknown as { execute: Execute };
  const original = connection.execute.bind(connection);
  unguarded.set(node, original);
  // MikroORM wraps whatever a statement throws in a DriverException: ours must reach the caller as they are
  const driver = node.orm.em.getDriver() as unknown as { convertException(e: unknown): unknown };
  const convert = driver.convertException.bind(driver);
  driver.convertException = (error) => (error instanceof ShardingError ? error : convert(error));
  const { health } = node;
  // Every statement of the node passes here: one derived promise per statement (no async function
  // layer, which would add two), and no allocation on the success path but that promise.
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
      return runElsewhere(other, [query, params, method, undefined, loggerContext]);
    }
    health.counters.queries++;
    health.inFlight++;
    const failed = (error: unknown) => {
      health.inFlight--;
      health.counters.errors++;
      if (!isConnectionFailure(error)) throw error;
      health.markDown(failureReason(error));
      const other = ctx ? undefined : hooks.rerouteRead(node); // a read is retried once, on another eligible node
      if (!other) throw unavailable(node, error);
      return runElsewhere(other, [query, params, method, undefined, loggerContext]);
    };
    let pending: Promise<unknown>;
    try {
      pending = original(query, params, method, ctx, loggerContext);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(!ctx && hooks.afterStatement ? settledThenRecord : settled, failed);
  };
}

/** Runs a rerouted read on `other` with its counters, without rerouting it again. */
async function runElsewhere(other: ShardNode, args: Parameters<Execute>): Promise<unknown> {
  const execute = unguarded.get(other);
  if (!execute) throw new Error(`node ${other.id} is not instrumented`);
  const { health } = other;
  health.counters.queries++;
  health.counters.retries++;
  health.inFlight++;
  try {
    return await execute(...args);
  } catch (error) {
    health.counters.errors++;
    if (!isConnectionFailure(error)) throw error;
    health.markDown(failureReason(error));
    throw unavailable(other, error);
  } finally {
    health.inFlight--;
  }
}

/**
 * Runs one statement on the node directly: no counting, no circuit, no rerouting (health checks and
 * WAL-position reads must reach a node whose circuit is open).
 */
export function executeOnNode<T>(node: ShardNode, sql: string, params: unknown[] = []): Promise<T> {
  const execute = unguarded.get(node);
  if (execute) return execute(sql, params, 'all') as Promise<T>;
  return node.orm.em.getConnection().execute(sql, params, 'all') as Promise<T>;
}

function unavailable(node: ShardNode, cause?: unknown): ShardUnavailableError {
  const why = cause
    ? `it failed: ${failureReason(cause)}`
    : `its circuit is open since the last failure (${node.health.error ?? 'unreachable'})`;
  return new ShardUnavailableError(
    `Node ${node.id} (${node.address}) is unavailable: ${why}. ` +
      (node.health.role === 'primary'
        ? 'Writes to this shard fail until the primary answers again (the health monitor re-checks it) or a replica is promoted.'
        : 'Reads go to other replicas or the primary while it is down.'),
    node.shard,
    node.id,
    cause === undefined ? undefined : { cause },
  );
}
