import type { EntityManager } from '@mikro-orm/postgresql';
import type { ShardingService } from '../context/sharding.service.js';
import { CrossShardQueryError, type ShardFailure } from '../errors/cross-shard-query.error.js';
import { ShardingError } from '../errors/sharding.error.js';
import { ShardUnavailableError } from '../errors/shard-unavailable.error.js';
import { withTimeout } from '../topology/with-timeout.js';
import type { ShardFailurePolicy } from './cross-shard.options.js';

/** How one cross-shard call reaches its shards (module settings merged with the call's options). */
export interface FanOutSettings {
  caller: string;
  /** Read from primaries instead of replicas. */
  primary: boolean;
  concurrency: number;
  timeoutMs: number;
  onShardFailure: ShardFailurePolicy;
}

/** The work done on one shard; `signal` fires on timeout and should reach the query (it cancels it on the server). */
export type ShardTask<T> = (em: EntityManager, signal: AbortSignal, shard: string) => Promise<T>;

/** Runs `task` on the shards, at most `concurrency` at once; applies the failure policy. */
export async function fanOut<T>(
  sharding: ShardingService,
  shards: readonly string[],
  settings: FanOutSettings,
  task: ShardTask<T>,
): Promise<{ results: Map<string, T>; missing: ShardFailure[] }> {
  const results = new Map<string, T>();
  const missing: ShardFailure[] = [];
  let next = 0;
  const lane = async () => {
    // in `fail` mode a failure stops the lanes from starting further shards
    while (next < shards.length && !(missing.length && settings.onShardFailure === 'fail')) {
      const shard = shards[next++];
      try {
        results.set(shard, await runOnShard(sharding, shard, settings, task));
      } catch (error) {
        missing.push({ shard, error: asShardFailure(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(settings.concurrency, shards.length) }, lane));
  if (missing.length && settings.onShardFailure === 'fail')
    throw CrossShardQueryError.shardsFailed(settings.caller, missing);
  missing.sort((a, b) => shards.indexOf(a.shard) - shards.indexOf(b.shard));
  return { results, missing };
}

/**
 * One shard's task through `ShardingService.run`, so the routing rules hold (a replica, or the primary
 * after a write in this context or inside a transaction). After `timeoutMs` the signal fires — MikroORM
 * then cancels the statement on the server — and the call fails even if the server never answers.
 */
export async function runOnShard<T>(
  sharding: ShardingService,
  shard: string,
  settings: Pick<FanOutSettings, 'primary' | 'timeoutMs'>,
  task: ShardTask<T>,
): Promise<T> {
  const controller = new AbortController();
  const work = sharding.run({ shard }, (em) => task(em, controller.signal, shard), {
    readOnly: !settings.primary,
    lockShard: false,
  });
  try {
    return await withTimeout(work, settings.timeoutMs, () => {
      const error = new ShardTimeout(shard, settings.timeoutMs);
      controller.abort(error);
      return error;
    });
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  }
}

/** A shard that did not answer in time (its statement was cancelled): it could not serve, like a node down. */
class ShardTimeout extends ShardUnavailableError {
  constructor(shard: string, ms: number) {
    super(`no answer from shard ${shard} within ${ms} ms (its query was cancelled on the server)`, shard);
    this.name = 'ShardTimeout';
  }
}

/**
 * Usage errors (unknown shard, shard lock, read-only context) are the caller's to fix: never "a shard
 * failed". A shard that cannot serve (node down, no eligible node) is a shard failure.
 */
function asShardFailure(error: unknown): Error {
  if (isUsageError(error)) throw error;
  return error instanceof Error ? error : new Error(String(error));
}

/** An error of the caller's making (to rethrow as is), as opposed to a shard that failed to answer. */
export function isUsageError(error: unknown): boolean {
  return (
    error instanceof ShardingError &&
    !(error instanceof ShardUnavailableError) &&
    !(error instanceof CrossShardQueryError)
  );
}

/** Lets at most `limit` async jobs run at once (stream batches share one budget). */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await job();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
