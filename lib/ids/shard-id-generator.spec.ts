import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { ShardIdGenerator } from './shard-id-generator.js';
import { decodeShardId } from './shard-id-layout.js';
import { snowflakeStrategy } from './snowflake-strategy.js';

const shards = ['s0', 's1', 's2', 's3'];

describe('ShardIdGenerator', () => {
  it('makes increasing 64-bit ids that embed shard, worker, time; snowflakeStrategy reads the shard back', () => {
    const generator = new ShardIdGenerator({ shards, workerId: 3 });
    const strategy = snowflakeStrategy();
    const ids = Array.from({ length: 10_000 }, () => generator.next());
    for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1]).toBe(true);
    expect(ids.every((id) => id < 2n ** 63n)).toBe(true);
    ids.slice(0, 8).forEach((id, i) => {
      const parts = decodeShardId(id);
      expect(parts.shardIndex).toBe(i % 4); // round-robin spread
      expect(parts.workerId).toBe(3);
      expect(Math.abs(parts.timestamp - Date.now())).toBeLessThan(5_000);
      expect(strategy.shardFor(id.toString(), shards)).toBe(shards[i % 4]);
    });
    expect(strategy.shardFor(generator.nextString('s2'), shards)).toBe('s2');
  });

  it('never repeats or goes back when the clock jumps backwards, or a millisecond fills up', () => {
    let now = 1_800_000_000_000;
    const generator = new ShardIdGenerator({ shards, clock: () => now, layout: { sequenceBits: 2 } });
    const ids: bigint[] = [];
    for (let i = 0; i < 10; i++) ids.push(generator.next('s1')); // 4 per ms: borrows ahead
    now -= 60_000; // NTP step back by a minute
    for (let i = 0; i < 10; i++) ids.push(generator.next('s1'));
    now += 120_000;
    ids.push(generator.next('s1'));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1]).toBe(true);
  });

  it('distinct worker ids never collide at the same instant', () => {
    const clock = () => 1_800_000_000_000;
    const a = new ShardIdGenerator({ shards, workerId: 1, clock });
    const b = new ShardIdGenerator({ shards, workerId: 2, clock });
    const all = [
      ...Array.from({ length: 500 }, () => a.next('s0')),
      ...Array.from({ length: 500 }, () => b.next('s0')),
    ];
    expect(new Set(all).size).toBe(1000);
  });

  it('rejects bad settings and foreign ids clearly', () => {
    expect(() => new ShardIdGenerator({ shards, workerId: 32 })).toThrow(/workerId must be an integer from 0 to 31/);
    expect(() => new ShardIdGenerator({ shards, layout: { shardBits: 1 } })).toThrow(
      /4 shards do not fit in 1 shard bits/,
    );
    expect(() => new ShardIdGenerator({ shards }).next('s9')).toThrow(ShardRoutingError);
    const fromBigTopology = new ShardIdGenerator({ shards: [...shards, 's4', 's5'] }).next('s5');
    expect(() => snowflakeStrategy().shardFor(fromBigTopology, shards)).toThrow(
      /embeds shard index 5, but only 4 shards/,
    );
    expect(() => snowflakeStrategy().shardFor('abc', shards)).toThrow(/needs an id made by ShardIdGenerator/);
  });
});

describe('ShardIdGenerator limits', () => {
  it('keeps 41 bits for time and refuses a clock outside the layout’s range', () => {
    expect(() => new ShardIdGenerator({ shards, layout: { shardBits: 10, workerBits: 10, sequenceBits: 10 } })).toThrow(
      /at most 22, so 41 bits/,
    );
    const early = new ShardIdGenerator({ shards, clock: () => Date.UTC(2020, 0, 1) });
    expect(() => early.next()).toThrow(/outside the id layout's time range/);
  });
});
