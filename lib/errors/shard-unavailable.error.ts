import { ShardingError } from './sharding.error.js';

/**
 * A node the call needs cannot serve it: the shard's primary is down (writes fail fast while its
 * circuit is open), or no node may serve a read (every replica down, lagging or behind the caller's
 * consistency token, and the primary is down or `whenNoReplica: 'fail'`). HTTP apps usually answer 503.
 */
export class ShardUnavailableError extends ShardingError {
  /** The shard, and the node when one node is to blame. */
  constructor(
    message: string,
    readonly shard: string,
    readonly node?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
