import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { lookupStrategy } from './lookup-strategy.js';
import { moduloStrategy } from './modulo-strategy.js';
import { rangeStrategy } from './range-strategy.js';
import { resolveShard, toShardStrategy } from './shard-strategy.js';

const shards = ['s0', 's1', 's2'];

describe('rangeStrategy', () => {
  const strategy = rangeStrategy([{ shard: 's0', below: 100 }, { shard: 's1', below: 1000n }, { shard: 's2' }]);

  it('places integer keys (number, bigint, decimal string) by ascending ranges', () => {
    strategy.validate!(shards);
    expect([-5, 0, 99, '100', 999n, 1000, '123456789012345678901'].map((k) => strategy.shardFor(k, shards))).toEqual([
      's0',
      's0',
      's0',
      's1',
      's1',
      's2',
      's2',
    ]);
  });

  it('refuses non-integer keys, keys past a closed last range, and bad ranges', () => {
    expect(() => strategy.shardFor('abc', shards)).toThrow(/needs an integer key; got "abc"/);
    expect(() => rangeStrategy([{ shard: 's0', below: 10 }]).shardFor(10, shards)).toThrow(/above every range/);
    expect(() =>
      rangeStrategy([{ shard: 's0' }, { shard: 's9', below: 5 }, { shard: 's1', below: 1 }]).validate!(shards),
    ).toThrow(/omit "below" \(range 0\); range 1 names unknown shard "s9"; bounds must ascend \(range 2: 1 after 5\)/);
  });
});

describe('moduloStrategy', () => {
  it('is key mod shard count, also for huge and negative integers', () => {
    const strategy = moduloStrategy();
    expect([0, 1, 2, 3, -1, '18446744073709551615'].map((k) => strategy.shardFor(k, shards))).toEqual([
      's0',
      's1',
      's2',
      's0',
      's2',
      's0',
    ]);
    expect(() => strategy.shardFor('x', shards)).toThrow(ShardRoutingError);
  });
});

describe('lookupStrategy', () => {
  it('asks the directory once per key (cached, concurrent calls shared) and retries failures', async () => {
    const asked: string[] = [];
    let fail = true;
    const strategy = lookupStrategy(async (key) => {
      asked.push(String(key));
      if (key === 'flaky' && fail) throw new Error('directory down');
      return key === 'acme' ? 's2' : 's0';
    });
    expect(await Promise.all([strategy.shardFor('acme', shards), strategy.shardFor('acme', shards)])).toEqual([
      's2',
      's2',
    ]);
    expect(await strategy.shardFor('acme', shards)).toBe('s2');
    await expect(strategy.shardFor('flaky', shards)).rejects.toThrow('directory down');
    fail = false;
    expect(await strategy.shardFor('flaky', shards)).toBe('s0');
    expect(asked).toEqual(['acme', 'flaky', 'flaky']);
  });

  it('evicts the least recently used answer past cacheSize', async () => {
    const asked: string[] = [];
    const strategy = lookupStrategy((key) => (asked.push(String(key)), 's1'), { cacheSize: 2 });
    for (const key of ['a', 'b', 'a', 'c', 'a', 'b']) await strategy.shardFor(key, shards);
    expect(asked).toEqual(['a', 'b', 'c', 'b']);
  });
});

describe('custom strategies', () => {
  it('a plain function is a strategy; an unknown shard name from it is a clear error', async () => {
    const later = toShardStrategy(async () => 'nowhere');
    await expect(resolveShard(later, 'k', shards)).rejects.toThrow(/returned "nowhere"/);
    const strategy = toShardStrategy(function byRegion(key) {
      return String(key).startsWith('eu') ? 's1' : 'us-east';
    });
    expect(resolveShard(strategy, 'eu-1', shards)).toBe('s1');
    expect(() => resolveShard(strategy, 'us-1', shards)).toThrow(
      'Shard strategy custom(byRegion) returned "us-east" for key "us-1", which is not a configured shard (s0, s1, s2).',
    );
  });
});

describe('lookupStrategy answers', () => {
  it('does not remember an unknown shard ("not found yet"): the next call asks again', async () => {
    let known = false;
    let asked = 0;
    const strategy = lookupStrategy(async () => (asked++, known ? 's1' : (undefined as unknown as string)));
    expect(await strategy.shardFor('tenant', shards)).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 0));
    known = true;
    expect(await strategy.shardFor('tenant', shards)).toBe('s1');
    expect(await strategy.shardFor('tenant', shards)).toBe('s1');
    expect(asked).toBe(2);
  });
});
