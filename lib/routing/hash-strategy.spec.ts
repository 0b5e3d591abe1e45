import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { hashStrategy, stableHash32 } from './hash-strategy.js';

const shards = ['s0', 's1', 's2', 's3'];
// Recorded from the first release: a change here would silently move every stored key to another shard.
const PINNED = [2872998923, 686566589, 836698088, 2451746111];

describe('hashStrategy', () => {
  it('is stable: fixed hash values (changing them would move every stored key)', () => {
    expect(['', '42', 'tenant-acme', 'é€'].map(stableHash32)).toEqual(PINNED);
  });

  it('routes 42, 42n and "42" to the same shard', () => {
    const strategy = hashStrategy();
    const shard = strategy.shardFor('42', shards);
    expect(strategy.shardFor(42, shards)).toBe(shard);
    expect(strategy.shardFor(42n, shards)).toBe(shard);
  });

  it('spreads 100k keys over 4 shards within ±3% of even, for sequential ints and random strings', () => {
    const strategy = hashStrategy({ buckets: 1024 });
    for (const makeKey of [(i: number) => i, (i: number) => `user-${(i * 2654435761) % 1e9}-${i}`]) {
      const counts = new Map<string, number>();
      for (let i = 0; i < 100_000; i++) {
        const shard = strategy.shardFor(makeKey(i), shards) as string;
        counts.set(shard, (counts.get(shard) ?? 0) + 1);
      }
      for (const shard of shards) expect(Math.abs(counts.get(shard)! - 25_000)).toBeLessThanOrEqual(750);
    }
  });

  it('maps buckets to shards in contiguous runs by default, or by an explicit bucket map', () => {
    const strategy = hashStrategy({ buckets: 8 });
    const byBucket = (key: number) => [strategy.bucketOf(key), strategy.shardFor(key, shards)];
    for (let key = 0; key < 50; key++) {
      const [bucket, shard] = byBucket(key);
      expect(shard).toBe(shards[Math.floor((bucket as number) / 2)]);
    }
    const moved = hashStrategy({ buckets: 4, bucketMap: ['s1', 's1', 's0', 's0'] });
    moved.validate!(['s0', 's1']);
    for (let key = 0; key < 20; key++)
      expect(moved.shardFor(key, ['s0', 's1'])).toBe(moved.bucketOf(key) < 2 ? 's1' : 's0');
  });

  it('one strategy serving two shard lists maps each by its own list', () => {
    const strategy = hashStrategy({ buckets: 64 });
    const three = ['a', 'b', 'c'];
    const seen = new Set(Array.from({ length: 500 }, (_, i) => strategy.shardFor(i, three)));
    expect(strategy.shardFor(1, ['s0', 's1'])).toMatch(/^s[01]$/);
    expect(seen).toEqual(new Set(three));
    expect(() => strategy.shardFor('', three)).toThrow(/is not a shard key/);
  });

  it('rejects impossible settings', () => {
    expect(() => hashStrategy({ buckets: 0 })).toThrow(ShardRoutingError);
    expect(() => hashStrategy({ buckets: 2 }).validate!(shards)).toThrow(/2 buckets cannot cover 4 shards/);
    expect(() => hashStrategy({ buckets: 2, bucketMap: ['s0', 's9'] }).validate!(['s0', 's1'])).toThrow(/unknown: s9/);
  });
});
