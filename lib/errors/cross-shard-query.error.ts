import { CommitOutcomeUnknownError } from './commit-outcome-unknown.error.js';
import { ShardUnavailableError } from './shard-unavailable.error.js';
import { ShardingError } from './sharding.error.js';

const isUnavailability = (error: Error) =>
  error instanceof ShardUnavailableError || error instanceof CommitOutcomeUnknownError;

/** One shard that did not answer a cross-shard query, and why. */
export interface ShardFailure {
  shard: string;
  error: Error;
}

/**
 * A cross-shard query could not give a complete answer: a shard failed or timed out (with
 * `onShardFailure: 'fail'`, the default), or the query itself cannot be merged correctly.
 * `failures` lists each failed shard and its cause.
 */
export class CrossShardQueryError extends ShardingError {
  constructor(
    message: string,
    readonly failures: readonly ShardFailure[] = [],
  ) {
    super(message, failures.length ? { cause: failures[0].error } : undefined);
  }

  /**
   * True when every failed shard could not serve (a node down, a commit cut off, no answer in time):
   * the query itself is fine and a retry later may succeed (HTTP apps answer 503, not 500).
   */
  get shardsUnavailable(): boolean {
    return this.failures.length > 0 && this.failures.every(({ error }) => isUnavailability(error));
  }

  static shardsFailed(caller: string, failures: readonly ShardFailure[]): CrossShardQueryError {
    const list = failures.map(({ shard, error }) => `${shard}: ${error.message}`).join('; ');
    return new CrossShardQueryError(
      `${caller} failed on ${failures.length === 1 ? 'shard' : 'shards'} ${failures.map((f) => f.shard).join(', ')} (${list}). ` +
        "Bring the shard back, raise crossShard.timeoutMs, or pass onShardFailure: 'partial' to accept an answer without it.",
      failures,
    );
  }
}

/**
 * A cross-shard read asked for more than one request may hold (`crossShard.maxOffset`, `maxRows`):
 * nothing was sent. The message names the bound; deeper pages need `findByCursor()`, everything
 * `stream()`. A client's request, not a failure: HTTP apps answer 400.
 */
export class CrossShardBoundError extends CrossShardQueryError {
  constructor(
    message: string,
    /** The option whose bound was passed. */
    readonly bound: 'maxOffset' | 'maxRows',
  ) {
    super(message);
  }
}
