import type { EntityMetadata, EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { canonicalJson } from './cursor-codec.js';
import { sortValues, toOrderBy, type SortTerm } from './sort-key.js';

/** A row of one shard waiting in the merge: its sort key, and how to turn it into the entity once chosen. */
export interface Candidate<T> {
  key: unknown[];
  take(): T;
}

/** What one shard is asked for: rows matching `where` in the total order, at most `limit`. */
export interface SortedFetch<T> {
  entity: EntityName<T>;
  meta: EntityMetadata<T>;
  where: object;
  terms: readonly SortTerm[];
  limit: number | undefined;
  fields?: readonly string[];
  populate?: readonly string[];
}

const CANCEL = { inflightQueryAbortStrategy: 'cancel query' } as const;

/**
 * Builds the per-shard reader of a sorted fetch. When nothing needs MikroORM's `find` (no `fields`,
 * no `populate`, no filters defined), the SQL is compiled once for all shards, each shard returns
 * plain rows, and only the rows the merge keeps become entities: the JavaScript cost of a fan-out
 * is then about one `find`, not one per shard. Otherwise (also for entities with formulas, lazy
 * properties or a virtual definition) each shard runs `em.find`. The plain-row path does not
 * auto-flush the fork's pending changes first, as `em.find` on a primary would.
 */
export function sortedReader<T extends object>(
  fetch: SortedFetch<T>,
  compiler: EntityManager,
): (em: EntityManager, signal: AbortSignal) => Promise<Candidate<T>[]> {
  const { entity, meta, where, terms, limit } = fetch;
  const filtered =
    Object.keys(meta.filters ?? {}).length > 0 || Object.keys(compiler.config.get('filters') ?? {}).length > 0;
  // formulas and lazy properties are computed or skipped by em.find only; `select *` would differ
  const special = meta.virtual || meta.props.some((prop) => prop.formula || prop.lazy);
  if (fetch.fields || fetch.populate?.length || filtered || special) {
    return async (em, signal) => {
      const found = await em.find(
        entity,
        where as never,
        {
          orderBy: toOrderBy(terms),
          limit,
          fields: fetch.fields ? [...new Set([...fetch.fields, ...terms.map((t) => t.property)])] : undefined,
          populate: fetch.populate,
          signal,
          ...CANCEL,
        } as never,
      );
      return found.map((row) => ({ key: sortValues(terms, row), take: () => row }));
    };
  }
  const sql = compiledSql(compiler, fetch);
  const columns = terms.map((t) => meta.properties[t.property as keyof typeof meta.properties].fieldNames[0]);
  return async (em, signal) => {
    const rows = await em.execute<Record<string, unknown>[]>(sql, [], { method: 'all', signal, ...CANCEL });
    // the routed fork itself (or its transaction): chosen rows join its identity map as em.find's do —
    // the same factory call, so an entity already loaded there is returned as it is, not overwritten
    const fork = em.getContext() as EntityManager;
    const factory = fork.getEntityFactory();
    const driver = fork.getDriver();
    return rows.map((row) => ({
      key: columns.map((column) => row[column] ?? null),
      take: () =>
        factory.create(entity, driver.mapResult(row as never, meta) as never, {
          merge: true,
          convertCustomTypes: true,
        }),
    }));
  };
}

/** Compiled SELECTs by query shape: compiling costs about as much as one shard's round trip. */
const compiled = new WeakMap<EntityManager, Map<string, string>>();
const CACHED_SHAPES = 256;

function compiledSql<T extends object>(compiler: EntityManager, fetch: SortedFetch<T>): string {
  const { entity, meta, where, terms, limit } = fetch;
  const build = () => {
    const qb = compiler
      .createQueryBuilder(entity, 'e')
      .select('*')
      .where(where as never)
      .orderBy(toOrderBy(terms) as never);
    if (limit !== undefined) qb.limit(limit);
    return qb.getFormattedQuery();
  };
  // only filters made of plain data have a faithful text key (raw() fragments hide behind symbols)
  if (!isPlainData(where)) return build();
  const key = `${meta.className}\u0000${limit}\u0000${canonicalJson(toOrderBy(terms))}\u0000${canonicalJson(where)}`;
  let cache = compiled.get(compiler);
  if (!cache) compiled.set(compiler, (cache = new Map()));
  let sql = cache.get(key);
  if (sql === undefined) {
    sql = build();
    if (cache.size >= CACHED_SHAPES) cache.delete(cache.keys().next().value!); // oldest first
    cache.set(key, sql);
  }
  return sql;
}

/** True for filters of plain objects, arrays, primitives and dates only (safe to key a cache by their JSON). */
export function isPlainData(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object') return typeof value !== 'function' && typeof value !== 'symbol';
  if (value instanceof Date) return true;
  if (depth > 20 || Object.getOwnPropertySymbols(value).length) return false;
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return false;
  return Object.values(value).every((item) => isPlainData(item, depth + 1));
}
