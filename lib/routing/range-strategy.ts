import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { integerKey, showKey } from './shard-key.js';
import type { ShardStrategy } from './shard-strategy.js';

/** One range: keys below `below` (exclusive) and at or above the previous range's bound. */
export interface KeyRange {
  shard: string;
  /** Exclusive upper bound; omit on the last range for "everything above". */
  below?: number | bigint;
}

/**
 * Integer keys by ascending ranges, e.g. `rangeStrategy([{ shard: 's0', below: 1_000_000 }, { shard: 's1' }])`.
 * The first range starts at minus infinity. A key above the last bound is an error, never a guess.
 */
export function rangeStrategy(ranges: readonly KeyRange[]): ShardStrategy {
  const bounds = ranges.map((r) => (r.below === undefined ? undefined : BigInt(r.below)));
  const name = `range(${ranges.map((r) => `${r.shard}<${r.below ?? '∞'}`).join(', ')})`;
  return {
    name,
    validate(shards) {
      const problems: string[] = [];
      if (!ranges.length) problems.push('give at least one range');
      ranges.forEach((r, i) => {
        if (!shards.includes(r.shard)) problems.push(`range ${i} names unknown shard "${r.shard}"`);
        if (bounds[i] === undefined && i !== ranges.length - 1)
          problems.push(`only the last range may omit "below" (range ${i})`);
        if (i > 0 && bounds[i] !== undefined && bounds[i - 1] !== undefined && bounds[i]! <= bounds[i - 1]!) {
          problems.push(`bounds must ascend (range ${i}: ${r.below} after ${ranges[i - 1].below})`);
        }
      });
      if (problems.length) throw new ShardRoutingError(`rangeStrategy: ${problems.join('; ')}.`);
    },
    shardFor(key) {
      const value = integerKey(key);
      if (value === undefined) throw new ShardRoutingError(`${name} needs an integer key; got ${showKey(key)}.`);
      const index = bounds.findIndex((bound) => bound === undefined || value < bound);
      if (index < 0)
        throw new ShardRoutingError(`Key ${showKey(key)} is above every range of ${name}: add a range for it.`);
      return ranges[index].shard;
    },
  };
}
