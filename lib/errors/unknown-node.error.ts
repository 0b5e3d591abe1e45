import { ShardingError } from './sharding.error.js';

/** A shard name or replica index that the configured topology does not have. */
export class UnknownNodeError extends ShardingError {
  static shard(shard: string, known: readonly string[]): UnknownNodeError {
    return new UnknownNodeError(
      `Shard "${shard}" is not configured. Known shards: ${known.join(', ')}. Check the name or add it to ShardingModule's "shards" option.`,
    );
  }

  static replica(shard: string, index: number, count: number): UnknownNodeError {
    return new UnknownNodeError(
      `Shard "${shard}" has ${count} replica(s); there is no replica ${index}. Replica indexes start at 0.`,
    );
  }
}
