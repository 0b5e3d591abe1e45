import type { EntityManager } from '@mikro-orm/postgresql';
import type { ShardingService } from '../context/sharding.service.js';
import { CrossShardQueryError, type ShardFailure } from '../errors/cross-shard-query.error.js';
import { mergeSources, type SortedSource } from './k-way-merge.js';
import { isUsageError, Limiter, runOnShard, type FanOutSettings } from './shard-fan-out.js';
import { compareKeys, sortValues, type SortTerm } from './sort-key.js';

/** What a `CrossShardStream` needs from `CrossShardQuery`. */
export interface StreamPlan<T> {
  sharding: ShardingService;
  settings: FanOutSettings;
  shards: () => Promise<string[]>;
  terms: readonly SortTerm[];
  /** One keyset batch of a shard: the rows after `after` (from the start when undefined). */
  batch: (em: EntityManager, signal: AbortSignal, after: readonly unknown[] | undefined) => Promise<T[]>;
  batchSize: number;
}

interface Keyed<T> {
  row: T;
  key: unknown[];
}

/**
 * The merged rows of `CrossShardQuery.stream()`, in order, as an async iterable. Each shard is read
 * in keyset batches: the batch being merged plus the next one, read ahead, per shard. With `onShardFailure: 'partial'`
 * a failing shard is dropped from the rest of the stream and listed in `missingShards`.
 */
export class CrossShardStream<T> implements AsyncIterable<T> {
  /** Shards that failed during the stream (only with `onShardFailure: 'partial'`). */
  readonly missingShards: ShardFailure[] = [];

  constructor(private readonly plan: StreamPlan<T>) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    const { terms, settings } = this.plan;
    const limiter = new Limiter(settings.concurrency);
    const shards = await this.plan.shards();
    const sources = shards.map((shard) => this.source(shard, limiter));
    for await (const { row } of mergeSources(sources, (a, b) => compareKeys(terms, a.key, b.key))) yield row;
  }

  private source(shard: string, limiter: Limiter): SortedSource<Keyed<T>> {
    const { plan } = this;
    let buffer: Keyed<T>[] = [];
    let position = 0;
    let done = false;
    // the next batch is already being read while the merge consumes this one (two batches per shard at most)
    let pending: Promise<Keyed<T>[]> | undefined;
    const fetch = (after: unknown[] | undefined): Promise<Keyed<T>[]> => {
      const batch = limiter
        .run(() => runOnShard(plan.sharding, shard, plan.settings, (em, signal) => plan.batch(em, signal, after)))
        .then((rows) => rows.map((row) => ({ row, key: sortValues(plan.terms, row as object) })));
      batch.catch(() => undefined); // a prefetch nobody awaits (the consumer stopped) must not crash the process
      return batch;
    };
    return {
      next: async () => {
        if (position < buffer.length) return buffer[position++];
        if (done) return undefined;
        try {
          buffer = await (pending ?? fetch(undefined));
        } catch (error) {
          if (isUsageError(error)) throw error;
          const failure = { shard, error: error instanceof Error ? error : new Error(String(error)) };
          if (plan.settings.onShardFailure === 'fail' || error instanceof CrossShardQueryError) {
            throw CrossShardQueryError.shardsFailed(plan.settings.caller, [failure]);
          }
          this.missingShards.push(failure);
          done = true;
          return undefined;
        }
        position = 0;
        done = buffer.length < plan.batchSize;
        pending = done ? undefined : fetch(buffer.at(-1)!.key);
        return position < buffer.length ? buffer[position++] : undefined;
      },
    };
  }
}
