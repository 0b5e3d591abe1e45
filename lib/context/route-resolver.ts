import { TransactionContext } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { NoShardContextError } from '../errors/no-shard-context.error.js';
import { ShardKeyMissingError } from '../errors/shard-key-missing.error.js';
import { ShardLockError } from '../errors/shard-lock.error.js';
import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { canonicalKey, showKey, type ShardKeyValue } from '../routing/shard-key.js';
import type { ShardNodes } from '../topology/node-registry.js';
import type { ShardNode } from '../topology/shard-node.js';
import { currentFrame } from './context-store.js';
import { chooseReadNode, isEligible } from './read-node.js';
import { callFrame, type CallFrame, type RequestScope, type TransactionPart } from './request-scope.js';
import type { ShardingRuntime } from './sharding-runtime.js';

/** Where a routed call wants to run. */
export interface RouteSpec {
  /** `UsersService.findOne` */
  caller: string;
  /** The shard, given directly (ShardingService.run({ shard })). */
  shard?: string;
  /** Reads the shard key from the call's arguments; `keyLabel` names it in errors. */
  key?: (args: readonly unknown[]) => unknown;
  keyLabel?: string;
  /** primary: writes and `@UsePrimary`; replica: `@ReadReplica` / read-only runs. */
  target: 'primary' | 'replica';
  /** Lock the scope this call opens to its shard. */
  lockShard?: boolean;
}

/**
 * Chooses the node of a routed call (in the runtime the caller's instance is bound to, else the
 * enclosing call's; with neither, `NoShardContextError`) and builds its frame:
 * - shard: from the key through the strategy, else the enclosing call's shard, else the only shard;
 * - inside a transaction on that shard: the transaction's EntityManager (its primary);
 * - replica reads: the primary once the scope wrote to the shard, else the enclosing call's node when
 *   it is on this shard (join), else a replica chosen by the balancer (the primary if there is none);
 * - `this.em` is the scope's fork on that node (made at its first use), so nested calls on one node share it.
 */
export function resolveFrame(
  spec: RouteSpec,
  args: readonly unknown[],
  hostRuntime?: ShardingRuntime,
): CallFrame | Promise<CallFrame> {
  const enclosing = currentFrame();
  const runtime = hostRuntime ?? enclosing?.scope.runtime;
  if (!runtime) throw NoShardContextError.forUnboundCall(spec.caller);
  // a call into another application's service (another module instance) starts its own context there
  const parent = enclosing?.scope.runtime === runtime ? enclosing : undefined;
  const scope = parent?.scope ?? runtime.newScope(spec.lockShard);
  // synchronous unless the strategy is (a lookup): no extra promise on the hot path
  const shard = chooseShard(spec, args, runtime, parent);
  return typeof shard === 'string'
    ? buildFrame(spec, runtime, scope, parent, shard)
    : shard.then((name) => buildFrame(spec, runtime, scope, parent, name));
}

function buildFrame(
  spec: RouteSpec,
  runtime: ShardingRuntime,
  scope: RequestScope,
  parent: CallFrame | undefined,
  shard: string,
): CallFrame | Promise<CallFrame> {
  lock(scope, shard, spec.caller);
  const readOnly = spec.target === 'replica';
  const opened = parent === undefined;
  const nodes = runtime.registry.acting(shard);
  const { primary } = nodes;
  const transactions = openTransactions(parent?.transactions);
  const transaction = parent?.transaction;
  const transactionEm = transactions?.get(primary.orm.em.name);
  if (transactionEm) {
    return callFrame(scope, spec.caller, readOnly, {
      shard,
      node: primary,
      transactionEm,
      transactions,
      opened,
      transaction,
    });
  }
  // inside a cross-shard transaction every call, reads included, joins the shard's part on its primary
  if (transaction) {
    const part = transaction.join(shard, spec.caller);
    const joined = (p: TransactionPart) =>
      callFrame(scope, spec.caller, readOnly, { shard, node: p.node, transactionEm: p.em, transactions, transaction });
    return part instanceof Promise ? part.then(joined) : joined(part);
  }
  const node = chooseNode(spec, runtime, scope, shard, nodes, parent);
  if (node instanceof Promise) {
    return node.then((chosen) =>
      callFrame(scope, spec.caller, readOnly, { shard, node: chosen, transactions, opened }),
    );
  }
  return callFrame(scope, spec.caller, readOnly, { shard, node, transactions, opened });
}

/**
 * The transactions open around a call: the enclosing call's, plus MikroORM's current one (the innermost:
 * entering shard B's transaction hides shard A's from MikroORM, not from these). Allocates only when a
 * transaction is new to the chain.
 */
function openTransactions(
  enclosing: ReadonlyMap<string, EntityManager> | undefined,
): ReadonlyMap<string, EntityManager> | undefined {
  const current = TransactionContext.currentTransactionContext()?.em as EntityManager | undefined;
  if (!current || enclosing?.get(current.name) === current) return enclosing;
  return new Map(enclosing).set(current.name, current);
}

function chooseShard(
  spec: RouteSpec,
  args: readonly unknown[],
  runtime: ShardingRuntime,
  parent: CallFrame | undefined,
): string | Promise<string> {
  if (spec.shard !== undefined) {
    runtime.registry.configured(spec.shard); // UnknownNodeError for a name that is not configured
    return spec.shard;
  }
  if (spec.key) {
    const key = spec.key(args);
    if (canonicalKey(key) === undefined) {
      throw new ShardKeyMissingError(
        `${spec.caller}: shard key ${spec.keyLabel ?? ''} is ${describeBadKey(key)}. ` +
          'A routed call needs a non-empty string, a number or a bigint; it is never sent to a default shard. ' +
          'Pass the key, or fix the @ShardBy/@ShardKey path.',
      );
    }
    try {
      const shard = runtime.shardFor(key as ShardKeyValue);
      return typeof shard === 'string' ? shard : shard.catch((error) => Promise.reject(namingCaller(error, spec)));
    } catch (error) {
      throw namingCaller(error, spec);
    }
  }
  if (parent?.shard) return parent.shard;
  if (runtime.shardNames.length === 1) return runtime.shardNames[0];
  throw new ShardKeyMissingError(
    `${spec.caller} has no shard key and runs outside any routed call, with ${runtime.shardNames.length} shards configured. ` +
      "Add @ShardBy('<key parameter>') (or @ShardKey() on the parameter), call it from a routed method, or use shardingService.run({ shard }, fn).",
  );
}

function chooseNode(
  spec: RouteSpec,
  runtime: ShardingRuntime,
  scope: RequestScope,
  shard: string,
  nodes: ShardNodes,
  parent: CallFrame | undefined,
): ShardNode | Promise<ShardNode> {
  if (spec.target === 'primary') return runtime.primaryFor(shard, spec.caller);
  // join the enclosing call's node while it may still serve the read
  if (parent?.shard === shard && parent.node && canJoin(runtime, scope, parent.node)) return parent.node;
  return chooseReadNode(runtime, scope, shard, nodes);
}

/** The enclosing call's node serves a nested read if it is the acting primary, or an eligible replica. */
function canJoin(runtime: ShardingRuntime, scope: RequestScope, node: ShardNode): boolean {
  if (node.health.isDown) return false;
  if (node.health.role === 'primary') return node === runtime.registry.acting(node.shard).primary;
  return (
    !scope.hasUnrecordedWrite(node.shard) &&
    isEligible(node, runtime.settings.maxLagMs, scope.requiredPosition(node.shard))
  );
}

/** Strategy errors know the key, not the method: add it. */
function namingCaller(error: unknown, spec: RouteSpec): unknown {
  if (error instanceof ShardRoutingError)
    error.message = `${spec.caller} (shard key ${spec.keyLabel ?? ''}): ${error.message}`;
  return error;
}

function lock(scope: RequestScope, shard: string, caller: string): void {
  if (!scope.lockShard) return;
  scope.lockedShard ??= shard;
  if (scope.lockedShard !== shard) {
    throw new ShardLockError(
      `${caller} wants shard "${shard}", but this request is locked to shard "${scope.lockedShard}". ` +
        'Keep one request on one shard, or turn off the lockShard option (module, run() or withContext()) for it.',
    );
  }
}

function describeBadKey(key: unknown): string {
  if (key === undefined || key === null) return `missing (${key})`;
  if (typeof key === 'string') return 'an empty string';
  if (typeof key === 'number') return `not a finite number (${key})`;
  return `of the wrong type (${showKey(key)})`;
}
