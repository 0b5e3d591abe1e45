import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { canonicalKey, showKey, type ShardKeyValue } from './shard-key.js';
import type { ShardStrategy } from './shard-strategy.js';

/** Options of {@link lookupStrategy}. */
export interface LookupStrategyOptions {
  /** Answers remembered (least recently used evicted); 0 asks the directory every time. @default 10000 */
  cacheSize?: number;
}

/**
 * Asks a directory (a table, a service...) which shard holds a key, e.g. tenants placed by hand.
 * Answers are cached; concurrent lookups of one key share one call.
 */
export function lookupStrategy(
  lookup: (key: ShardKeyValue) => string | Promise<string>,
  options: LookupStrategyOptions = {},
): ShardStrategy {
  const cacheSize = options.cacheSize ?? 10_000;
  const cache = new Map<string, Promise<string>>();
  return {
    name: `lookup(${lookup.name || 'directory'})`,
    isolated: true,
    shardFor(key, shards) {
      const id = canonicalKey(key);
      if (id === undefined) throw new ShardRoutingError(`lookupStrategy: ${showKey(key)} is not a shard key.`);
      const cached = cache.get(id);
      if (cached) {
        cache.delete(id); // re-insert: most recently used last
        cache.set(id, cached);
        return cached;
      }
      const answer = Promise.resolve().then(() => lookup(key));
      if (cacheSize > 0) {
        cache.set(id, answer);
        // only configured shard names are remembered: "not found" or a failure is asked again next time
        const forget = () => cache.get(id) === answer && cache.delete(id);
        answer.then((shard) => shards.includes(shard) || forget(), forget);
        if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
      }
      return answer;
    },
  };
}
