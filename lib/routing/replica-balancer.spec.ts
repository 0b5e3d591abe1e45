import { NodeHealth } from '../topology/node-health.js';
import type { ShardNode } from '../topology/shard-node.js';
import {
  createBalancer,
  leastBusyBalancer,
  randomBalancer,
  roundRobinBalancer,
  weightedBalancer,
} from './replica-balancer.js';

/** Replica descriptions only: balancers choose among nodes, they never touch a connection. */
const replica = (n: number, weight = 1): ShardNode =>
  ({
    id: `s0/replica-${n}`,
    shard: 's0',
    role: 'replica',
    index: n - 1,
    weight,
    health: new NodeHealth('replica'),
  }) as unknown as ShardNode;

const tally = (pick: () => ShardNode, times: number) => {
  const counts: Record<string, number> = {};
  for (let i = 0; i < times; i++) {
    const { id } = pick();
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
};

describe('replica balancers', () => {
  const three = [replica(1), replica(2), replica(3)];

  it('round-robin: each replica in turn, per shard', () => {
    const balance = roundRobinBalancer();
    expect([0, 1, 2, 3].map(() => balance(three, 's0').id)).toEqual([
      's0/replica-1',
      's0/replica-2',
      's0/replica-3',
      's0/replica-1',
    ]);
    expect(balance(three, 's1').id).toBe('s0/replica-1'); // another shard has its own turn
  });

  it('random: every replica about equally often (30,000 picks within ±5%)', () => {
    const balance = randomBalancer();
    const counts = tally(() => balance(three, 's0'), 30_000);
    for (const node of three) expect(Math.abs(counts[node.id] - 10_000)).toBeLessThan(500);
  });

  it('weighted: exact shares by weight, spread out, and right when a replica drops out', () => {
    const weighted = [replica(1, 5), replica(2, 1), replica(3, 2)];
    const balance = weightedBalancer();
    expect(tally(() => balance(weighted, 's0'), 8_000)).toEqual({
      's0/replica-1': 5_000,
      's0/replica-2': 1_000,
      's0/replica-3': 2_000,
    });
    // smooth: the heavy replica never gets more than its share in a row
    const order = Array.from({ length: 8 }, () => balance(weighted, 's0').id);
    expect(order.filter((id) => id === 's0/replica-1')).toHaveLength(5);
    expect(order.join()).not.toContain('s0/replica-1,s0/replica-1,s0/replica-1,s0/replica-1');
    const without3 = [weighted[0], weighted[1]];
    expect(tally(() => balance(without3, 's0'), 6_000)).toEqual({ 's0/replica-1': 5_000, 's0/replica-2': 1_000 });
  });

  it('least-busy: the replica with the fewest statements in flight, ties in turn', () => {
    const balance = leastBusyBalancer();
    three[0].health.inFlight = 3;
    three[1].health.inFlight = 1;
    three[2].health.inFlight = 1;
    expect(tally(() => balance(three, 's0'), 10)).toEqual({ 's0/replica-2': 5, 's0/replica-3': 5 });
    three[1].health.inFlight = 0;
    expect(balance(three, 's0').id).toBe('s0/replica-2');
    for (const node of three) node.health.inFlight = 0;
  });

  it('createBalancer: names and custom functions', () => {
    const custom = () => three[2];
    expect(createBalancer(custom)).toBe(custom);
    for (const name of ['round-robin', 'random', 'weighted', 'least-busy'] as const) {
      expect(three).toContain(createBalancer(name)(three, 's0'));
    }
  });
});
