import { ReferenceKind, type EntityMetadata } from '@mikro-orm/core';
import { CrossShardQueryError } from '../errors/cross-shard-query.error.js';
import type { AggregateRow, CrossShardAggregateOptions } from './cross-shard.options.js';
import { canonicalJson } from './cursor-codec.js';
import { addDecimals, averageDecimal } from './decimal-text.js';
import { compareKeys, type SortTerm } from './sort-key.js';
import { compareValues, kindOfColumn, type ValueKind } from './value-order.js';

/** The columns one shard is asked for, under SQL aliases the merge reads back. */
export interface AggregatePlan {
  /** Select list: alias → SQL expression over the root alias `e`. */
  select: [alias: string, sql: string][];
  groupBy: { property: string; alias: string; kind: ValueKind }[];
  wants: Required<Pick<CrossShardAggregateOptions, 'sum' | 'min' | 'max' | 'avg'>> & { count: boolean };
  kinds: Record<string, ValueKind>;
}

/** Checks the properties and plans per-shard SQL: AVG is asked as SUM and COUNT, never as an average. */
export function planAggregate(
  meta: EntityMetadata,
  options: CrossShardAggregateOptions,
  caller: string,
): AggregatePlan {
  const column = (property: string, use: string) => {
    const prop = meta.properties[property as keyof typeof meta.properties];
    const scalarOrOwner = prop && (prop.kind === ReferenceKind.SCALAR || prop.kind === ReferenceKind.MANY_TO_ONE);
    if (!scalarOrOwner || prop.persist === false || prop.fieldNames?.length !== 1) {
      throw new CrossShardQueryError(
        `${caller}: ${use} names ${meta.className}.${property}, which is not a stored single-column property of ${meta.className}.`,
      );
    }
    return { sql: `e.${quote(prop.fieldNames[0])}`, kind: kindOfColumn(prop.columnTypes?.[0]) };
  };
  const wants = {
    count: options.count ?? false,
    sum: [...(options.sum ?? [])],
    min: [...(options.min ?? [])],
    max: [...(options.max ?? [])],
    avg: [...(options.avg ?? [])],
  };
  if (!wants.count && ![wants.sum, wants.min, wants.max, wants.avg].some((list) => list.length)) {
    throw new CrossShardQueryError(`${caller}: ask for at least one of count, sum, min, max or avg.`);
  }
  const select: [string, string][] = [];
  const kinds: Record<string, ValueKind> = {};
  const groupBy = (options.groupBy ?? []).map((property, i) => {
    const { sql, kind } = column(property, 'groupBy');
    select.push([`g${i}`, sql]);
    return { property, alias: `g${i}`, kind };
  });
  select.push(['n', 'count(*)']);
  const add = (list: string[], use: string, expressions: (sql: string) => [string, string][]) =>
    list.forEach((property) => {
      const { sql, kind } = column(property, use);
      kinds[property] = kind;
      select.push(
        ...expressions(sql).map(([suffix, expression]): [string, string] => [`${suffix}_${property}`, expression]),
      );
    });
  add(wants.sum, 'sum', (sql) => [['sum', `sum(${sql})`]]);
  add(wants.min, 'min', (sql) => [['min', `min(${sql})`]]);
  add(wants.max, 'max', (sql) => [['max', `max(${sql})`]]);
  add(wants.avg, 'avg', (sql) => [
    ['avgsum', `sum(${sql})`],
    ['avgcount', `count(${sql})`],
  ]);
  return { select, groupBy, wants, kinds };
}

interface Accumulator {
  group: unknown[];
  count: bigint;
  sum: Record<string, string | number | null>;
  min: Record<string, unknown>;
  max: Record<string, unknown>;
  avgSum: Record<string, string | number | null>;
  avgCount: Record<string, bigint>;
}

/** Merges the shards' grouped rows into what one database would return; groups sorted ascending, NULLs last. */
export function mergeAggregates(plan: AggregatePlan, shardRows: readonly Record<string, unknown>[][]): AggregateRow[] {
  const groups = new Map<string, Accumulator>();
  for (const rows of shardRows) {
    for (const row of rows) {
      const group = plan.groupBy.map((g) => row[g.alias] ?? null);
      const key = canonicalJson(group);
      let acc = groups.get(key);
      if (!acc) {
        acc = { group, count: 0n, sum: {}, min: {}, max: {}, avgSum: {}, avgCount: {} };
        groups.set(key, acc);
      }
      acc.count += BigInt(row.n as string | number);
      for (const p of plan.wants.sum) acc.sum[p] = addNullable(acc.sum[p] ?? null, row[`sum_${p}`]);
      for (const p of plan.wants.min) acc.min[p] = extreme(acc.min[p], row[`min_${p}`], plan.kinds[p], -1);
      for (const p of plan.wants.max) acc.max[p] = extreme(acc.max[p], row[`max_${p}`], plan.kinds[p], 1);
      for (const p of plan.wants.avg) {
        acc.avgSum[p] = addNullable(acc.avgSum[p] ?? null, row[`avgsum_${p}`]);
        acc.avgCount[p] = (acc.avgCount[p] ?? 0n) + BigInt(row[`avgcount_${p}`] as string | number);
      }
    }
  }
  const terms: SortTerm[] = plan.groupBy.map((g) => ({
    property: g.property,
    kind: g.kind,
    columnType: undefined,
    descending: false,
    nullsFirst: false,
    nullable: true,
  }));
  return [...groups.values()]
    .sort((a, b) => compareKeys(terms, a.group, b.group))
    .map((acc) => {
      const out: AggregateRow = { group: Object.fromEntries(plan.groupBy.map((g, i) => [g.property, acc.group[i]])) };
      if (plan.wants.count) out.count = Number(acc.count);
      if (plan.wants.sum.length) out.sum = pick(plan.wants.sum, (p) => acc.sum[p] ?? null);
      if (plan.wants.min.length) out.min = pick(plan.wants.min, (p) => acc.min[p] ?? null);
      if (plan.wants.max.length) out.max = pick(plan.wants.max, (p) => acc.max[p] ?? null);
      if (plan.wants.avg.length) out.avg = pick(plan.wants.avg, (p) => average(acc.avgSum[p] ?? null, acc.avgCount[p]));
      return out;
    });
}

function pick<V>(properties: readonly string[], value: (p: string) => V): Record<string, V> {
  return Object.fromEntries(properties.map((p) => [p, value(p)]));
}

/** SUM ignores shards with no non-NULL value; integer and numeric sums stay exact decimal text. */
function addNullable(total: string | number | null, value: unknown): string | number | null {
  if (value === null || value === undefined) return total;
  if (total === null) return typeof value === 'number' ? value : String(value);
  if (typeof total === 'number' && typeof value === 'number') return total + value;
  return addDecimals(String(total), String(value));
}

function extreme(current: unknown, value: unknown, kind: ValueKind, direction: 1 | -1): unknown {
  if (value === null || value === undefined) return current ?? null;
  if (current === null || current === undefined) return value;
  return compareValues(value, current, kind) * direction > 0 ? value : current;
}

function average(sum: string | number | null, count: bigint | undefined): string | number | null {
  if (sum === null || !count) return null;
  return typeof sum === 'number' ? sum / Number(count) : averageDecimal(sum, count);
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
