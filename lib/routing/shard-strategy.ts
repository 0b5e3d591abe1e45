import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { showKey, type ShardKeyValue } from './shard-key.js';

/** Chooses the shard of a key. */
export interface ShardStrategy {
  /** Shown in errors, e.g. `hash(1024 buckets)`. */
  readonly name: string;
  /** The shard for a (valid) key, given the configured shard names in configuration order. */
  shardFor(key: ShardKeyValue, shards: readonly string[]): string | Promise<string>;
  /** Called once when the module starts; throws `ShardRoutingError` for an impossible setting. */
  validate?(shards: readonly string[]): void;
  /**
   * Run `shardFor` outside the caller's routing context (a directory lookup that itself queries a
   * database must not join the caller's fork, lock or read-only state). Costs a little: off by default.
   */
  readonly isolated?: boolean;
}

/** The `strategy` option: a strategy object, or any function from key to shard name. */
export type ShardStrategyOption = ShardStrategy | ((key: ShardKeyValue) => string | Promise<string>);

/** Wraps a plain function as a strategy. */
export function toShardStrategy(option: ShardStrategyOption): ShardStrategy {
  if (typeof option === 'function') {
    return { name: option.name ? `custom(${option.name})` : 'custom function', shardFor: (key) => option(key) };
  }
  return option;
}

/**
 * Runs the strategy and checks its answer names a configured shard: a strategy's typo must not
 * become a write to nowhere. Synchronous when the strategy is (no extra promise on the hot path).
 */
export function resolveShard(
  strategy: ShardStrategy,
  key: ShardKeyValue,
  shards: readonly string[],
): string | Promise<string> {
  const answer = strategy.shardFor(key, shards);
  return typeof answer === 'string'
    ? checkedShard(answer, strategy, key, shards)
    : Promise.resolve(answer).then((shard) => checkedShard(shard, strategy, key, shards));
}

function checkedShard(shard: unknown, strategy: ShardStrategy, key: ShardKeyValue, shards: readonly string[]): string {
  if (typeof shard !== 'string' || !shards.includes(shard)) {
    throw new ShardRoutingError(
      `Shard strategy ${strategy.name} returned ${showKey(shard)} for key ${showKey(key)}, which is not a configured shard ` +
        `(${shards.join(', ')}). Fix the strategy or add that shard to the "shards" option.`,
    );
  }
  return shard;
}
