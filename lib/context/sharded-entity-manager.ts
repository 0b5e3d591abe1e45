import { TransactionContext } from '@mikro-orm/core';
import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { NoShardContextError } from '../errors/no-shard-context.error.js';
import { ReadOnlyContextError } from '../errors/read-only-context.error.js';
import { currentFrame } from './context-store.js';
import type { CallFrame } from './request-scope.js';
import { ShardingRuntime } from './sharding-runtime.js';

/** Methods that write or open a transaction: refused inside `@ReadReplica()` before reaching a server. */
const REFUSED_WHEN_READ_ONLY = new Set([
  'flush',
  'persist',
  'remove',
  'insert',
  'insertMany',
  'nativeUpdate',
  'nativeDelete',
  'upsert',
  'upsertMany',
  'transactional',
  'begin',
  'commit',
  'lock',
]);
/** Refused members that do not return a Promise: they throw; the others return a rejected Promise. */
const SYNCHRONOUS = new Set(['persist', 'remove']);

const EM_MEMBERS = new Set<string>();
for (let proto = EntityManager.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
  for (const name of Object.getOwnPropertyNames(proto)) EM_MEMBERS.add(name);
}
// read by frameworks scanning providers outside any context (@nestjs/graphql's resolver explorer reads
// every provider's `constructor`): outside a routed call it is ShardedEntityManager's own
EM_MEMBERS.delete('constructor');

export const SHARDING_RUNTIME = Symbol('nestjs-mikro-orm-sharding:runtime');

/** Where the current call runs, as seen from `ShardedEntityManager.currentRoute()`. */
export interface CurrentRoute {
  shard: string;
  /** `s0/primary`, `s0/replica-1`, ... (configured names) */
  node: string;
  /** The role the node plays now: after a promotion, `s0/replica-1` may be the `primary`. */
  role: 'primary' | 'replica';
  readOnly: boolean;
  inTransaction: boolean;
}

// The class is a Proxy to the current fork: it has every EntityManager member (declaration merging).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface ShardedEntityManager extends EntityManager {}

/**
 * Inject it instead of MikroORM's `EntityManager`: every member acts on the EntityManager fork of the
 * node chosen for the current routed call (`@ShardBy`, `@ReadReplica`, `@UsePrimary`,
 * `ShardingService.run`), and inside `em.transactional()` on that transaction. Used outside a routed
 * call it throws `NoShardContextError`; a write inside `@ReadReplica()` fails with `ReadOnlyContextError`
 * — through this proxy, and also through repositories, QueryBuilders and raw `execute()`, whose SQL is
 * checked before it is sent (raw Kysely clients from `getKysely()` are not checked).
 */
@Injectable()
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class ShardedEntityManager {
  declare readonly [SHARDING_RUNTIME]: ShardingRuntime;

  constructor(runtime: ShardingRuntime) {
    Object.defineProperty(this, SHARDING_RUNTIME, { value: runtime });
    return new Proxy(this, { get: forwardToCurrentFork, set: refuseAssignment });
  }

  /** The current call's shard and node, or undefined outside a routed call. */
  currentRoute(): CurrentRoute | undefined {
    const frame = currentFrame();
    if (!frame?.node || !frame.shard) return undefined;
    const em = activeEm(frame.scope.runtime.emFor(frame)!);
    return {
      shard: frame.shard,
      node: frame.node.id,
      role: frame.node.health.role, // the role it plays now (a promoted replica is the primary)
      readOnly: frame.readOnly,
      inTransaction: em.isInTransaction(),
    };
  }
}

// MikroORM's @Transactional(), @CreateRequestContext() and @EnsureRequestContext() take `this.em` only when
// it is `instanceof EntityManager`: the proxy is one (of @mikro-orm/core's, the SQL and the PostgreSQL class).
Object.setPrototypeOf(ShardedEntityManager.prototype, EntityManager.prototype);
Object.defineProperty(ShardedEntityManager.prototype, Symbol.for('nodejs.util.inspect.custom'), {
  value(this: ShardedEntityManager) {
    const route = this.currentRoute();
    return `[ShardedEntityManager ${route ? route.node : '(outside a routed call)'}]`;
  },
});

function activeEm(em: EntityManager): EntityManager {
  return (TransactionContext.getEntityManager(em.name) as EntityManager | undefined) ?? em;
}

function forwardToCurrentFork(target: ShardedEntityManager, prop: string | symbol, receiver: unknown): unknown {
  if (typeof prop === 'symbol' || prop === 'currentRoute' || prop === 'constructor')
    return Reflect.get(target, prop, receiver);
  const frame = currentFrame();
  const frameEm = frame?.scope.runtime.emFor(frame);
  if (!frameEm) {
    if (EM_MEMBERS.has(prop)) return outsideRoutedCall(prop);
    return Reflect.get(target, prop, receiver); // e.g. Nest probing for lifecycle hooks, or `then`
  }
  if (frame!.readOnly && REFUSED_WHEN_READ_ONLY.has(prop)) return refuse(frame!, prop);
  const em = activeEm(frameEm);
  const value = (em as unknown as Record<string, unknown>)[prop];
  return typeof value === 'function' ? value.bind(em) : value;
}

const refusals = new Map<string, () => never>();

/**
 * An EntityManager member read outside a routed call: a method gives a function that throws
 * `NoShardContextError` when called (scanners such as @nestjs/schedule read every method of every
 * provider, through the prototype chain, and must not fail), a getter throws at once.
 */
function outsideRoutedCall(prop: string): () => never {
  let method = refusals.get(prop);
  if (!method) {
    if (typeof Object.getOwnPropertyDescriptor(findOwner(prop), prop)?.value !== 'function')
      throw NoShardContextError.forMember(prop);
    method = () => {
      throw NoShardContextError.forMember(prop);
    };
    refusals.set(prop, method);
  }
  return method;
}

function findOwner(prop: string): object {
  let proto: object = EntityManager.prototype;
  while (!Object.hasOwn(proto, prop)) proto = Object.getPrototypeOf(proto) as object;
  return proto;
}

function refuse(frame: CallFrame, prop: string): () => unknown {
  return () => {
    const error = new ReadOnlyContextError(
      `${frame.caller} called em.${prop}() in a read-only call (node ${frame.node?.id}); nothing was sent. ` +
        'Writes and transactions belong to a method without @ReadReplica() (it runs on the primary), or a run() without readOnly.',
    );
    if (SYNCHRONOUS.has(prop)) throw error;
    return Promise.reject(error);
  };
}

function refuseAssignment(_target: ShardedEntityManager, prop: string | symbol): boolean {
  throw new TypeError(
    `ShardedEntityManager.${String(prop)} cannot be assigned: it forwards to the current call's EntityManager.`,
  );
}
