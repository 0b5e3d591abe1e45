import { ShardingError } from './sharding.error.js';

/**
 * The connection to a shard's primary was lost after a COMMIT (or an autocommit write) was sent and
 * before its answer arrived: the write may or may not have been applied. Do not retry it blindly
 * (a retry may apply it twice); read back what you wrote, or make the write idempotent, then decide.
 * HTTP apps usually answer 503 and say that the outcome is unknown.
 */
export class CommitOutcomeUnknownError extends ShardingError {
  /** The shard, and the node the commit was sent to. */
  constructor(
    message: string,
    readonly shard: string,
    readonly node: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
