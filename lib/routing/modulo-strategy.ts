import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { integerKey, showKey } from './shard-key.js';
import type { ShardStrategy } from './shard-strategy.js';

/**
 * Integer key modulo the number of shards, in configuration order. Simple and even for sequential
 * ids, but adding a shard moves most keys: prefer `hashStrategy` (bucket map) if shards will grow.
 */
export function moduloStrategy(): ShardStrategy {
  return {
    name: 'modulo',
    shardFor(key, shards) {
      const value = integerKey(key);
      if (value === undefined) throw new ShardRoutingError(`moduloStrategy needs an integer key; got ${showKey(key)}.`);
      const n = BigInt(shards.length);
      return shards[Number(((value % n) + n) % n)];
    },
  };
}
