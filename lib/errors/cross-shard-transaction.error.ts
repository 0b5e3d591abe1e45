import { ShardingError } from './sharding.error.js';

/** How a cross-shard transaction ended, as far as the caller can know. */
export type CrossShardOutcome = 'aborted' | 'committed' | 'unknown';

/**
 * A cross-shard transaction (`ShardingService.transaction()`, `@CrossShardTransaction()`) did not end in a
 * plain success. `outcome` says what happened to its writes:
 * - `'aborted'`: nothing was committed on any shard (safe to retry);
 * - `'committed'`: the commit decision is durable, so every shard will apply the writes, but
 *   `pendingShards` could not be told yet: the recovery (`transactions.recoveryIntervalMs`, or
 *   `ShardingService.recoverTransactions()`) finishes them; until then their rows keep the old values.
 *   Do not retry;
 * - `'unknown'`: the connection to the deciding shard was lost while the decision was being written, and
 *   it could not be read back. Recovery settles it one way or the other on every shard; read back before
 *   retrying.
 */
export class CrossShardTransactionError extends ShardingError {
  constructor(
    message: string,
    readonly outcome: CrossShardOutcome,
    /** Every shard the transaction touched. */
    readonly shards: readonly string[],
    /** Shards whose part is prepared and not yet committed or rolled back (recovery resolves them). */
    readonly pendingShards: readonly string[] = [],
    /** The global transaction id (the deciding shard's transaction id), once it had one. */
    readonly transactionId?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
