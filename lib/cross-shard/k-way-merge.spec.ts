import { mergeSorted, mergeSources } from './k-way-merge.js';

/** Seeded PRNG (mulberry32) so a failure reproduces. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('k-way merge', () => {
  const byValue = (a: { v: number }, b: { v: number }) => a.v - b.v;

  it('equals a stable sort of the concatenation, for any skip/take (random sources)', () => {
    const seed = 20261123;
    const random = prng(seed);
    for (let round = 0; round < 200; round++) {
      const sources = Array.from({ length: 1 + Math.floor(random() * 5) }, (_, s) =>
        Array.from({ length: Math.floor(random() * 12) }, () => ({ v: Math.floor(random() * 6), s }))
          .sort(byValue)
          .map((item, i) => ({ ...item, i })),
      );
      const skip = Math.floor(random() * 10);
      const take = random() < 0.3 ? Infinity : Math.floor(random() * 10);
      const expected = sources
        .flat()
        .sort((a, b) => a.v - b.v || a.s - b.s || a.i - b.i)
        .slice(skip, skip + take);
      expect({ seed, round, merged: mergeSorted(sources, byValue, skip, take) }).toEqual({
        seed,
        round,
        merged: expected,
      });
    }
  });

  it('visits only the needed prefix', () => {
    let compared = 0;
    const big = Array.from({ length: 10_000 }, (_, i) => ({ v: i }));
    const merged = mergeSorted([big, big, big], (a, b) => (compared++, a.v - b.v), 0, 3);
    expect(merged.map((x) => x.v)).toEqual([0, 0, 0]);
    expect(compared).toBeLessThan(30);
  });

  it('pulls async sources lazily, one head each', async () => {
    const pulls = [0, 0];
    const source = (index: number, values: number[]) => ({
      next: async () => {
        pulls[index]++;
        const v = values.shift();
        return v === undefined ? undefined : { v };
      },
    });
    const merged = mergeSources([source(0, [1, 4, 5]), source(1, [2, 3, 9])], byValue);
    const firstTwo = [(await merged.next()).value, (await merged.next()).value];
    expect(firstTwo).toEqual([{ v: 1 }, { v: 2 }]);
    expect(pulls).toEqual([2, 1]); // both heads, then a refill of the source taken from, only when resumed
    const rest: number[] = [];
    for await (const item of merged) rest.push(item.v);
    expect(rest).toEqual([3, 4, 5, 9]);
  });
});
