import { ReferenceKind, type EntityMetadata } from '@mikro-orm/core';
import { CrossShardQueryError } from '../errors/cross-shard-query.error.js';
import { compareValues, kindOfColumn, type ValueKind } from './value-order.js';

/** One ORDER BY term, with PostgreSQL's NULL placement made explicit. */
export interface SortTerm {
  property: string;
  descending: boolean;
  nullsFirst: boolean;
  nullable: boolean;
  kind: ValueKind;
  /** The column's database type (`bigint`, `varchar(255)`, `timestamptz`...): what a cursor value must fit. */
  columnType: string | undefined;
}

const DIRECTIONS: Record<string, { descending: boolean; nullsFirst: boolean }> = {
  // PostgreSQL: ASC puts NULLs last, DESC puts them first
  asc: { descending: false, nullsFirst: false },
  '1': { descending: false, nullsFirst: false },
  'asc nulls last': { descending: false, nullsFirst: false },
  'asc nulls first': { descending: false, nullsFirst: true },
  desc: { descending: true, nullsFirst: true },
  '-1': { descending: true, nullsFirst: true },
  'desc nulls first': { descending: true, nullsFirst: true },
  'desc nulls last': { descending: true, nullsFirst: false },
};

/**
 * Turns MikroORM's `orderBy` (object or array of objects) into a total order: scalar properties
 * of the root entity only, each primary key appended (ascending) unless already sorted on.
 */
export function totalOrder(meta: EntityMetadata, orderBy: unknown, caller: string): SortTerm[] {
  const terms: SortTerm[] = [];
  const entries = (Array.isArray(orderBy) ? orderBy : orderBy ? [orderBy] : []).flatMap((part: unknown) => {
    if (typeof part !== 'object' || part === null) {
      throw new CrossShardQueryError(`${caller}: orderBy entries must be objects like { createdAt: 'desc' }.`);
    }
    return Object.entries(part as Record<string, unknown>);
  });
  for (const [property, direction] of entries) {
    if (terms.some((t) => t.property === property)) continue; // a later repeat cannot change the order
    const found = DIRECTIONS[String(direction).toLowerCase()];
    if (!found) {
      throw new CrossShardQueryError(
        `${caller}: orderBy.${property} is ${JSON.stringify(direction)}; use 'asc', 'desc', a QueryOrder value (e.g. QueryOrder.ASC_NULLS_FIRST), 1 or -1.`,
      );
    }
    terms.push({ ...termFor(meta, property, caller), ...found });
  }
  for (const pk of meta.primaryKeys) {
    if (!terms.some((t) => t.property === pk)) {
      terms.push({ ...termFor(meta, pk, caller), descending: false, nullsFirst: false });
    }
  }
  return terms;
}

function termFor(meta: EntityMetadata, property: string, caller: string): Omit<SortTerm, 'descending' | 'nullsFirst'> {
  const prop = meta.properties[property as keyof typeof meta.properties];
  if (!prop || prop.kind !== ReferenceKind.SCALAR || prop.persist === false || prop.formula) {
    throw new CrossShardQueryError(
      `${caller}: ${meta.className}.${property} cannot be merged across shards; orderBy takes stored scalar properties of ${meta.className} ` +
        `(${Object.values(meta.properties)
          .filter((p) => p.kind === ReferenceKind.SCALAR && p.persist !== false && !p.formula)
          .map((p) => p.name)
          .join(', ')}).`,
    );
  }
  return {
    property,
    nullable: !prop.primary && prop.nullable === true, // MikroORM marks nullable properties explicitly
    kind: kindOfColumn(prop.columnTypes?.[0]),
    columnType: prop.columnTypes?.[0],
  };
}

/** The order as MikroORM's `orderBy`, NULL placement explicit so every shard sorts like the merge. */
export function toOrderBy(terms: readonly SortTerm[]): Record<string, string>[] {
  return terms.map((t) => ({
    [t.property]: `${t.descending ? 'desc' : 'asc'} nulls ${t.nullsFirst ? 'first' : 'last'}`,
  }));
}

/** The sort values of a loaded row (an entity or a plain object). */
export function sortValues(terms: readonly SortTerm[], row: object): unknown[] {
  return terms.map((t) => (row as Record<string, unknown>)[t.property] ?? null);
}

/** Compares two rows' sort values under the order. */
export function compareKeys(terms: readonly SortTerm[], a: readonly unknown[], b: readonly unknown[]): number {
  for (let i = 0; i < terms.length; i++) {
    const term = terms[i];
    const x = a[i];
    const y = b[i];
    if (x === null || y === null) {
      if (x === y) continue;
      return (x === null) === term.nullsFirst ? -1 : 1;
    }
    const order = compareValues(x, y, term.kind);
    if (order !== 0) return term.descending ? -order : order;
  }
  return 0;
}
