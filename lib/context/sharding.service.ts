import type { EntityManager } from '@mikro-orm/postgresql';
import type { CrossShardQuery } from '../cross-shard/cross-shard-query.service.js';
import { Injectable } from '@nestjs/common';
import { canonicalKey, showKey, type ShardKeyValue } from '../routing/shard-key.js';
import { encodeConsistencyToken } from './consistency-token.js';
import { currentFrame, runInFrameAndRelease } from './context-store.js';
import { callFrame } from './request-scope.js';
import { resolveFrame } from './route-resolver.js';
import { ShardedEntityManager, SHARDING_RUNTIME } from './sharded-entity-manager.js';
import { ShardedSession } from './sharded-session.js';
import { ShardKeyMissingError } from '../errors/shard-key-missing.error.js';
import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { ShardingRuntime } from './sharding-runtime.js';
import type { CrossShardTransactionOptions } from '../transactions/transaction-options.js';
import { runCrossShardTransaction } from '../transactions/transaction-runner.js';
import { recoverTransactions, type RecoveryReport } from '../transactions/transaction-recovery.js';

/** Where `run()` goes: a shard by name, or the shard of a key. */
export type RunTarget = { shard: string } | { key: ShardKeyValue };

/** Options of `ShardingService.run()`. */
export interface RunOptions {
  /** Read from a replica, as `@ReadReplica()` does (writes refused). @default false */
  readOnly?: boolean;
  /** When this run opens the context: lock it to its shard. @default the module's `lockShard` option */
  lockShard?: boolean;
  /**
   * A consistency token from an earlier context (`consistencyToken()`, or the response header of an HTTP
   * call): reads here see at least those writes. Applies when this run opens the context.
   */
  consistencyToken?: string;
}

/**
 * Routing for code outside HTTP (jobs, scripts, tests) and a few shard-level helpers.
 * Inside `run()`, `ShardedEntityManager` and decorated methods work as in a request.
 */
@Injectable()
export class ShardingService {
  declare readonly [SHARDING_RUNTIME]: ShardingRuntime;

  private readonly em: EntityManager;
  private crossShardQuery: CrossShardQuery | undefined;

  constructor(runtime: ShardingRuntime) {
    Object.defineProperty(this, SHARDING_RUNTIME, { value: runtime });
    this.em = new ShardedEntityManager(runtime);
  }

  /**
   * Reads across shards with correct ORDER BY / LIMIT / aggregates and multi-shard cursors: the
   * module's `CrossShardQuery` (also injectable by itself).
   */
  get crossShard(): CrossShardQuery {
    if (!this.crossShardQuery) {
      throw new ShardRoutingError(
        'ShardingService.crossShard is set up by ShardingModule; use the ShardingService the module provides.',
      );
    }
    return this.crossShardQuery;
  }

  /** @internal ShardingModule hands its CrossShardQuery over here (the query depends on this service, not the reverse). */
  attachCrossShard<Q extends CrossShardQuery>(query: Q): Q {
    this.crossShardQuery = query;
    return query;
  }

  /**
   * A unit of work over every shard in which each entity goes to the shard its own key says (the
   * module's `shardKeys`), like SQLAlchemy's `ShardedSession`. Its flush commits shard by shard.
   */
  session(): ShardedSession {
    return new ShardedSession(this[SHARDING_RUNTIME]);
  }

  /**
   * Runs `fn` as one transaction across shards: every routed call inside (`@ShardBy` methods, `this.em`,
   * `run({ key })`, reads included) joins its shard's part on the shard's primary, opened at the first call
   * there. When `fn` resolves, all parts commit atomically (two-phase commit with PostgreSQL's `PREPARE
   * TRANSACTION`, the decision kept on one of the shards); when it throws, all roll back. A transaction that
   * touched one shard commits normally (no PREPARE). Failures of the protocol are
   * `CrossShardTransactionError` with the `outcome` the caller must act on.
   *
   * @example
   * await sharding.transaction(async () => {
   *   await accounts.debit(from, amount);   // @ShardBy('id') methods, on two shards
   *   await accounts.credit(to, amount);
   * });
   */
  transaction<T>(fn: () => Promise<T>, options?: CrossShardTransactionOptions): Promise<T> {
    return runCrossShardTransaction(this[SHARDING_RUNTIME], fn, 'ShardingService.transaction', options);
  }

  /**
   * Resolves now the prepared parts of cross-shard transactions a crash left behind (what the scheduled
   * recovery does): commits those whose decision is durable, rolls back those whose deciding transaction
   * ended without one, leaves younger ones than `graceMs` alone. One instance at a time.
   */
  recoverTransactions(options: { graceMs?: number } = {}): Promise<RecoveryReport> {
    const runtime = this[SHARDING_RUNTIME];
    return recoverTransactions(runtime, options.graceMs ?? runtime.settings.transactions.graceMs);
  }

  /** The configured shard names. */
  get shards(): readonly string[] {
    return this[SHARDING_RUNTIME].shardNames;
  }

  /** The shard a key belongs to, by the configured strategy. */
  async shardFor(key: ShardKeyValue): Promise<string> {
    if (canonicalKey(key) === undefined) {
      throw new ShardKeyMissingError(
        `ShardingService.shardFor: ${showKey(key)} is not a shard key (a non-empty string, a number or a bigint).`,
      );
    }
    return this[SHARDING_RUNTIME].shardFor(key);
  }

  /**
   * Runs `fn` routed to a shard (its primary, or a replica when `readOnly`), joining the current
   * context if there is one. `fn` gets the node's EntityManager fork (the same one `ShardedEntityManager` uses).
   */
  async run<T>(target: RunTarget, fn: (em: EntityManager) => T | Promise<T>, options: RunOptions = {}): Promise<T> {
    const byShard = typeof target === 'object' && target !== null && 'shard' in target;
    if (byShard && (typeof target.shard !== 'string' || !target.shard)) {
      throw new ShardKeyMissingError(
        `ShardingService.run: { shard } is ${showKey(target.shard)}; name a configured shard (${this.shards.join(', ')}).`,
      );
    }
    if (!byShard && !(typeof target === 'object' && target !== null && 'key' in target)) {
      throw new ShardKeyMissingError('ShardingService.run needs { shard: name } or { key } as its first argument.');
    }
    if (options.consistencyToken && !currentFrame()) {
      return this.withContext(() => this.run(target, fn, { ...options, consistencyToken: undefined }), options);
    }
    const frame = await resolveFrame(
      {
        caller: `ShardingService.run(${byShard ? `shard ${(target as { shard: string }).shard}` : 'by key'})`,
        shard: byShard ? (target as { shard: string }).shard : undefined,
        key: byShard ? undefined : () => (target as { key: unknown }).key,
        keyLabel: '{ key }',
        target: options.readOnly ? 'replica' : 'primary',
        lockShard: options.lockShard,
      },
      [],
      this[SHARDING_RUNTIME],
    );
    // fn gets the guarded EntityManager, the same `this.em` gives in a routed method
    return runInFrameAndRelease(frame, () => fn(this.em));
  }

  /**
   * Opens a routing context without choosing a shard — what the interceptor does for each HTTP
   * request — so a job's routed calls share forks, the written-shards memory and the shard lock.
   * Inside an open context it just runs `fn`.
   */
  async withContext<T>(
    fn: () => T | Promise<T>,
    options: { lockShard?: boolean; consistencyToken?: string } = {},
  ): Promise<T> {
    const runtime = this[SHARDING_RUNTIME];
    if (currentFrame()) return fn();
    const scope = runtime.newScope(
      options.lockShard,
      options.consistencyToken,
      'ShardingService.withContext/run (consistencyToken option)',
    );
    return runInFrameAndRelease(callFrame(scope, 'ShardingService.withContext', false, { opened: true }), fn);
  }

  /**
   * The current context's consistency token: the WAL positions of its commits (and of the token it
   * started with). Hand it to the next context (`run`/`withContext` option, or the HTTP header) so its
   * reads see these writes, from a replica once it has caught up. Undefined outside a context or when
   * there is nothing to wait for.
   */
  consistencyToken(): string | undefined {
    const scope = currentFrame()?.scope;
    return scope ? encodeConsistencyToken(scope.recordedPositions()) : undefined;
  }

  /**
   * Runs `fn` once per shard, at most `concurrency` at a time, and returns each shard's result by name.
   * Fails with the first error (the shards already started still finish).
   */
  async forEachShard<T>(
    fn: (shard: string, em: EntityManager) => T | Promise<T>,
    options: { concurrency?: number; readOnly?: boolean } = {},
  ): Promise<Record<string, T>> {
    const shards = this.shards;
    const concurrency = options.concurrency ?? shards.length;
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
      throw new ShardRoutingError(
        `ShardingService.forEachShard: concurrency must be a positive integer (got ${concurrency}).`,
      );
    }
    const results: Record<string, T> = {};
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (next < shards.length && !failed) {
        const shard = shards[next++];
        try {
          results[shard] = await this.run({ shard }, (em) => fn(shard, em), { readOnly: options.readOnly });
        } catch (error) {
          failed = true; // no further shard starts
          throw error;
        }
      }
    };
    const lanes = Math.min(concurrency, shards.length);
    await Promise.all(Array.from({ length: lanes }, worker));
    return Object.fromEntries(shards.map((shard) => [shard, results[shard]]));
  }
}
