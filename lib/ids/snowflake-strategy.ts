import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { integerKey, showKey } from '../routing/shard-key.js';
import type { ShardStrategy } from '../routing/shard-strategy.js';
import { DEFAULT_ID_LAYOUT, decodeShardId, type ShardIdLayout } from './shard-id-layout.js';

/** A strategy reading the shard out of ids; its layout must be the id generator's. */
export interface SnowflakeStrategy extends ShardStrategy {
  readonly layout: Readonly<ShardIdLayout>;
}

/**
 * Routes ids made by `ShardIdGenerator` to the shard they embed. Give it the same layout as the
 * module's `ids.layout` (checked at start-up).
 */
export function snowflakeStrategy(layout: Partial<ShardIdLayout> = {}): SnowflakeStrategy {
  const full = Object.freeze({ ...DEFAULT_ID_LAYOUT, ...layout });
  return {
    name: 'snowflake',
    layout: full,
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
