import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { canonicalKey, showKey, type ShardKeyValue } from './shard-key.js';
import type { ShardStrategy } from './shard-strategy.js';

/** Options of {@link hashStrategy}. */
export interface HashStrategyOptions {
  /** Virtual buckets; must be at least the number of shards. @default 1024 */
  buckets?: number;
  /**
   * Bucket → shard name, one entry per bucket. By default buckets are split into contiguous,
   * equal runs in shard order, so moving a shard's buckets later is a change of this map only.
   */
  bucketMap?: readonly string[];
}

/** A hash strategy also tells a key's bucket (for resharding tools and diagnostics). */
export interface HashStrategy extends ShardStrategy {
  readonly buckets: number;
  bucketOf(key: ShardKeyValue): number;
}

/**
 * The default strategy: a stable 32-bit hash of the key's canonical text (FNV-1a, then the
 * murmur3 finaliser for an even spread) picks a virtual bucket, and a bucket map picks the shard.
 * The same key lands on the same shard in every process and after every restart. The hash function
 * is part of the on-disk contract: it never changes.
 */
export function hashStrategy(options: HashStrategyOptions = {}): HashStrategy {
  const buckets = options.buckets ?? 1024;
  if (!Number.isInteger(buckets) || buckets < 1) {
    throw new ShardRoutingError(`hashStrategy: buckets must be a positive integer (got ${buckets}).`);
  }
  const bucketOf = (key: ShardKeyValue) => {
    const text = canonicalKey(key);
    if (text === undefined)
      throw new ShardRoutingError(
        `hashStrategy: ${showKey(key)} is not a shard key (a non-empty string, a number or a bigint).`,
      );
    return stableHash32(text) % buckets;
  };
  return {
    name: `hash(${buckets} buckets)`,
    buckets,
    bucketOf,
    validate(shards) {
      if (buckets < shards.length) {
        throw new ShardRoutingError(
          `hashStrategy: ${buckets} buckets cannot cover ${shards.length} shards; use at least as many buckets as shards.`,
        );
      }
      if (options.bucketMap) {
        const unknown = [...new Set(options.bucketMap)].filter((s) => !shards.includes(s));
        if (options.bucketMap.length !== buckets || unknown.length) {
          throw new ShardRoutingError(
            `hashStrategy: bucketMap must name a configured shard for each of the ${buckets} buckets ` +
              `(it has ${options.bucketMap.length} entries${unknown.length ? `, unknown: ${unknown.join(', ')}` : ''}).`,
          );
        }
      }
    },
    shardFor(key, shards) {
      const bucket = bucketOf(key);
      // the default map splits the buckets into contiguous, equal runs in shard order: computed, not looked up
      return options.bucketMap ? options.bucketMap[bucket] : shards[Math.floor((bucket * shards.length) / buckets)];
    },
  };
}

/** FNV-1a over UTF-16 code units with murmur3's fmix32 avalanche; unsigned 32-bit. */
export function stableHash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
