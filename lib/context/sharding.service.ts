import type { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import type { ShardKeyValue } from '../routing/shard-key.js';
import { currentFrame, runInFrame } from './context-store.js';
import { resolveFrame } from './route-resolver.js';
import { SHARDING_RUNTIME } from './sharded-entity-manager.js';
import { ShardingRuntime } from './sharding-runtime.js';

/** Where `run()` goes: a shard by name, or the shard of a key. */
export type RunTarget = { shard: string } | { key: ShardKeyValue };

/** Options of `ShardingService.run()`. */
export interface RunOptions {
  /** Read from a replica, as `@ReadReplica()` does (writes refused). @default false */
  readOnly?: boolean;
  /** When this run opens the context: lock it to its shard. @default the module's lockRequestToOneShard */
  lockShard?: boolean;
}

/**
 * Routing for code outside HTTP (jobs, scripts, tests) and a few shard-level helpers.
 * Inside `run()`, `ShardedEntityManager` and decorated methods work as in a request.
 */
@Injectable()
export class ShardingService {
  declare readonly [SHARDING_RUNTIME]: ShardingRuntime;

  constructor(runtime: ShardingRuntime) {
    Object.defineProperty(this, SHARDING_RUNTIME, { value: runtime });
  }

  /** The configured shard names. */
  get shards(): string[] {
    return this[SHARDING_RUNTIME].shardNames;
  }

  /** The shard a key belongs to, by the configured strategy. */
  async shardFor(key: ShardKeyValue): Promise<string> {
    return this[SHARDING_RUNTIME].shardFor(key);
  }

  /**
   * Runs `fn` routed to a shard (its primary, or a replica when `readOnly`), joining the current
   * context if there is one. `fn` gets the node's EntityManager fork (the same one `ShardedEntityManager` uses).
   */
  async run<T>(target: RunTarget, fn: (em: EntityManager) => T | Promise<T>, options: RunOptions = {}): Promise<T> {
    const frame = await resolveFrame(
      {
        caller: `ShardingService.run(${'shard' in target ? `shard ${target.shard}` : 'key'})`,
        shard: 'shard' in target ? target.shard : undefined,
        key: 'key' in target ? () => target.key : undefined,
        keyLabel: 'key',
        target: options.readOnly ? 'replica' : 'primary',
        lockShard: options.lockShard,
      },
      this[SHARDING_RUNTIME],
    );
    return runInFrame(frame, () => fn(frame.em!));
  }

  /**
   * Opens a routing context without choosing a shard — what the interceptor does for each HTTP
   * request — so a job's routed calls share forks, the written-shards memory and the shard lock.
   * Inside an open context it just runs `fn`.
   */
  withContext<T>(fn: () => T | Promise<T>, options: { lockShard?: boolean } = {}): Promise<T> {
    const runtime = this[SHARDING_RUNTIME];
    if (currentFrame()) return Promise.resolve().then(fn);
    const frame = {
      scope: runtime.newScope(options.lockShard),
      caller: 'ShardingService.withContext',
      readOnly: false,
    };
    return runInFrame(frame, async () => fn());
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
    const results: Record<string, T> = {};
    let next = 0;
    const worker = async () => {
      while (next < shards.length) {
        const shard = shards[next++];
        results[shard] = await this.run({ shard }, (em) => fn(shard, em), { readOnly: options.readOnly });
      }
    };
    const lanes = Math.max(1, Math.min(options.concurrency ?? shards.length, shards.length));
    await Promise.all(Array.from({ length: lanes }, worker));
    return Object.fromEntries(shards.map((shard) => [shard, results[shard]]));
  }
}
