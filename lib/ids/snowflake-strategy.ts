import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { integerKey, showKey } from '../routing/shard-key.js';
import type { ShardStrategy } from '../routing/shard-strategy.js';
import { DEFAULT_ID_LAYOUT, decodeShardId, type ShardIdLayout } from './shard-id-layout.js';

/** Routes ids made by `ShardIdGenerator` to the shard they embed (same layout required). */
export function snowflakeStrategy(layout: Partial<ShardIdLayout> = {}): ShardStrategy {
  const full = { ...DEFAULT_ID_LAYOUT, ...layout };
  return {
    name: 'snowflake',
    shardFor(key, shards) {
      const value = integerKey(key);
      if (value === undefined || value < 0n) {
        throw new ShardRoutingError(`snowflakeStrategy needs an id made by ShardIdGenerator; got ${showKey(key)}.`);
      }
      const { shardIndex } = decodeShardId(value, full);
      const shard = shards[shardIndex];
      if (!shard) {
        throw new ShardRoutingError(
          `Id ${showKey(key)} embeds shard index ${shardIndex}, but only ${shards.length} shards are configured: ` +
            'was it made with another topology or id layout?',
        );
      }
      return shard;
    },
  };
}
