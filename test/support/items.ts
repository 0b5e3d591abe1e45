import { defineEntity, p } from '@mikro-orm/postgresql';

/** Rows with every kind of sort value the merge must order like PostgreSQL: NULLs, duplicates, bigint and numeric text, C-collated text, dates. */
export const ItemSchema = defineEntity({
  name: 'Item',
  tableName: 'items',
  properties: {
    id: p.bigint('string').primary().autoincrement(false),
    score: p.integer().nullable(),
    label: p.string().nullable(),
    amount: p.bigint('string').nullable(),
    price: p.decimal('string').precision(12).scale(2).nullable(),
    createdAt: p.datetime(3).nullable(),
    grp: p.string(),
    rank: p.integer().index(),
  },
});

export class Item extends ItemSchema.class {}
ItemSchema.setClass(Item);

export type ItemRow = Pick<Item, 'id' | 'score' | 'label' | 'amount' | 'price' | 'createdAt' | 'grp' | 'rank'>;

/** Seeded PRNG (mulberry32): the seed printed by a failing test reproduces it. */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export const LABELS = ['a', 'B', 'b', 'ab', 'Ab', 'é', 'z', '~', 'ＡＢ', '\u{1F600}', 'a b', ''];
const BASE = Date.UTC(2026, 0, 1);

export function randomRows(random: () => number, count: number): ItemRow[] {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const maybe = <T>(value: () => T, nulls = 0.15): T | null => (random() < nulls ? null : value());
  const ids = new Set<string>();
  while (ids.size < count) ids.add(String(1 + Math.floor(random() * 10 ** (3 + Math.floor(random() * 10)))));
  return [...ids].map((id) => ({
    id,
    score: maybe(() => Math.floor(random() * 25) - 5),
    label: maybe(() => pick(LABELS)),
    // up to ±9e15 per row: shard sums pass 2^53
    amount: maybe(() => String(BigInt(Math.floor(random() * 9e15)) * (random() < 0.2 ? -1n : 1n)), 0.1),
    price: maybe(() => (Math.floor(random() * 100_000) / 100).toFixed(2), 0.1),
    createdAt: maybe(() => new Date(BASE + Math.floor(random() * 40) * 1000 + Math.floor(random() * 3)), 0.1),
    grp: pick(['x', 'y', 'z']),
    rank: Math.floor(random() * 60),
  }));
}
