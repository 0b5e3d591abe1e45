import type { FilterQuery, OrderDefinition } from '@mikro-orm/core';
import type { ShardFailure } from '../errors/cross-shard-query.error.js';

/** What to do when a shard fails or times out during a cross-shard query. */
export type ShardFailurePolicy = 'fail' | 'partial';

/** Module-level settings of `CrossShardQuery` (`ShardingModule.forRoot({ crossShard })`). */
export interface CrossShardOptions {
  /**
   * Entity name → the property holding its shard key (the value the strategy routes by). A query
   * whose `where` pins that property with an equality or `$in` runs only on the matching shards;
   * entities not listed always fan out to every shard.
   * @default {}
   */
  shardKeys?: Record<string, string>;
  /** Shards queried at the same time. @default 8 */
  concurrency?: number;
  /** Per shard (per batch, for `stream`): the server query is cancelled after this long. @default 30000 */
  timeoutMs?: number;
  /** `fail`: throw `CrossShardQueryError`; `partial`: answer without the shard and say so. @default 'fail' */
  onShardFailure?: ShardFailurePolicy;
  /**
   * Secret that signs cursors (HMAC, at least 16 characters), the same on every instance. Without it a
   * random secret is made once and kept in the `sharding_metadata` table on the first shard's primary
   * (created if missing), read at the first cursor use: every instance and every restart find the same
   * one. Set it when the database user may not create that table, when cursor paging must work while
   * the first shard's primary is down, or to rotate it.
   * @default a random secret kept on the first shard
   */
  cursorSecret?: string;
  /**
   * The largest `offset` of `find()`: each shard returns `limit + offset` rows to be merged, so a deep
   * offset costs memory and time on every shard. Deeper pages: `findByCursor()` or `stream()`.
   * @default 1000
   */
  maxOffset?: number;
  /**
   * The most rows one `find()` or `findByCursor()` may return (`limit`, `first`; a `find` without
   * `limit` that matches more fails). More: `stream()`. @default 10000
   */
  maxRows?: number;
  /** Rows fetched per shard per round trip by `stream()`. @default 1000 */
  streamBatchSize?: number;
}

/** Options every cross-shard call accepts; unset ones come from the module's `crossShard` settings. */
export interface CrossShardCallOptions {
  /** Read from each shard's primary instead of a replica. @default false */
  primary?: boolean;
  /** Only these shards (still narrowed further by a shard-key `where`). @default every shard */
  shards?: readonly string[];
  /** Overrides the module's `shardKeys` entry for this entity; `null` turns narrowing off. */
  shardKey?: string | null;
  /** @default the module's crossShard.concurrency (8) */
  concurrency?: number;
  /** @default the module's crossShard.timeoutMs (30000) */
  timeoutMs?: number;
  /** @default the module's crossShard.onShardFailure ('fail') */
  onShardFailure?: ShardFailurePolicy;
}

/** Options of `CrossShardQuery.find()`. */
export interface CrossShardFindOptions<T> extends CrossShardCallOptions {
  /** Scalar properties of the entity; the primary key is appended so the order is total. @default primary key ascending */
  orderBy?: OrderDefinition<T>;
  /** @default no limit (every matching row of every shard) */
  limit?: number;
  /** @default 0 */
  offset?: number;
  /** Partial loading; the sort properties and primary key are always added. */
  fields?: readonly string[];
  /** Relations to load (from the row's own shard). */
  populate?: readonly string[];
}

/** Options of `CrossShardQuery.findByCursor()`. */
export interface CrossShardCursorOptions<T> extends CrossShardCallOptions {
  /** @default primary key ascending */
  orderBy?: OrderDefinition<T>;
  /** Page size. */
  first: number;
  /** `nextCursor` of the previous page; omit for the first page. */
  after?: string | null;
  fields?: readonly string[];
  populate?: readonly string[];
}

/** Options of `CrossShardQuery.stream()`. */
export interface CrossShardStreamOptions<T> extends CrossShardCallOptions {
  /** @default primary key ascending */
  orderBy?: OrderDefinition<T>;
  /** @default the module's crossShard.streamBatchSize (1000) */
  batchSize?: number;
  fields?: readonly string[];
}

/** Options of `CrossShardQuery.aggregate()`: property names of the entity. */
export interface CrossShardAggregateOptions extends CrossShardCallOptions {
  groupBy?: readonly string[];
  /** Adds `count` (rows per group). @default false */
  count?: boolean;
  sum?: readonly string[];
  min?: readonly string[];
  max?: readonly string[];
  avg?: readonly string[];
}

/** Rows plus the shards that did not answer (only ever non-empty with `onShardFailure: 'partial'`). */
export interface CrossShardResult<R> {
  items: R[];
  missingShards: ShardFailure[];
}

/** One page of `findByCursor()`. */
export interface CrossShardPage<R> extends CrossShardResult<R> {
  /** Pass as `after` for the next page; null on the last page. */
  nextCursor: string | null;
  hasNextPage: boolean;
}

/**
 * One group of `aggregate()`. Types follow what PostgreSQL returns through `pg` for one database:
 * `count` a number; `sum` and `avg` a decimal string for integer/numeric columns (exact, no 2^53
 * limit; AVG with PostgreSQL's own numeric scale), a number for float columns; `min`/`max` the
 * column's value as the entity would hold it.
 */
export interface AggregateRow {
  /** The group's values, by property name (empty without `groupBy`). */
  group: Record<string, unknown>;
  count?: number;
  sum?: Record<string, string | number | null>;
  min?: Record<string, unknown>;
  max?: Record<string, unknown>;
  avg?: Record<string, string | number | null>;
}

/** The where accepted by every method: MikroORM's filter for the entity. */
export type CrossShardWhere<T> = FilterQuery<T>;
