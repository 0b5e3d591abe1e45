import type { EntityMetadata, EntityName, FilterQuery } from '@mikro-orm/core';
import { raw, type EntityManager } from '@mikro-orm/postgresql';
import type { ShardingRuntime } from '../context/sharding-runtime.js';
import type { ShardingService } from '../context/sharding.service.js';
import { SHARDING_DEFAULTS } from '../module/sharding-defaults.js';
import { CrossShardBoundError, CrossShardQueryError } from '../errors/cross-shard-query.error.js';
import { planAggregate, mergeAggregates } from './aggregate-merge.js';
import type {
  AggregateRow,
  CrossShardAggregateOptions,
  CrossShardCallOptions,
  CrossShardCursorOptions,
  CrossShardFindOptions,
  CrossShardOptions,
  CrossShardPage,
  CrossShardResult,
  CrossShardStreamOptions,
} from './cross-shard.options.js';
import { CrossShardStream } from './cross-shard-stream.js';
import { CursorCodec, queryFingerprint } from './cursor-codec.js';
import { deploymentSecret } from './deployment-secret.js';
import { mergeSorted } from './k-way-merge.js';
import { keysetFilter } from './keyset-filter.js';
import { fanOut, type FanOutSettings, type ShardTask } from './shard-fan-out.js';
import { narrowedKeys } from './shard-narrowing.js';
import { sortedReader, type Candidate } from './sorted-fetch.js';
import { compareKeys, toOrderBy, totalOrder, type SortTerm } from './sort-key.js';

const CANCEL = { inflightQueryAbortStrategy: 'cancel query' } as const;

/**
 * Reads that span shards and answer exactly as one database holding every row would: fan-out in
 * parallel (only to the shards a shard-key `where` allows), a k-way merge on a total order
 * (primary key appended) with LIMIT/OFFSET pushed down, keyset cursors, merged aggregates, and a
 * memory-bounded stream. Each shard is read through the routing rules of `@ReadReplica`
 * (replica, or primary after a write in this context or inside a transaction) unless `primary: true`.
 * Also reachable as `shardingService.crossShard`.
 */
export class CrossShardQuery {
  private readonly settings: Required<Omit<CrossShardOptions, 'cursorSecret'>>;
  /** Made at the first cursor use: without `cursorSecret` its key is read from the first shard. */
  private cursors: Promise<CursorCodec> | undefined;
  /** Compiles SQL only (shared metadata and platform); never runs a query. */
  private readonly compiler: EntityManager;

  constructor(
    private readonly sharding: ShardingService,
    private readonly runtime: ShardingRuntime,
    options: CrossShardOptions = {},
  ) {
    this.settings = {
      shardKeys: options.shardKeys ?? {},
      concurrency: options.concurrency ?? SHARDING_DEFAULTS.crossShard.concurrency,
      timeoutMs: options.timeoutMs ?? SHARDING_DEFAULTS.crossShard.timeoutMs,
      onShardFailure: options.onShardFailure ?? SHARDING_DEFAULTS.crossShard.onShardFailure,
      streamBatchSize: options.streamBatchSize ?? SHARDING_DEFAULTS.crossShard.streamBatchSize,
      maxOffset: options.maxOffset ?? SHARDING_DEFAULTS.crossShard.maxOffset,
      maxRows: options.maxRows ?? SHARDING_DEFAULTS.crossShard.maxRows,
    };
    this.compiler = runtime.registry.nodes[0].orm.em.fork({ clear: true, disableContextResolution: true });
    if (options.cursorSecret) this.cursors = Promise.resolve(new CursorCodec(options.cursorSecret));
  }

  /** The cursor codec; its deployment secret is fetched once (again after a failure). */
  private cursorCodec(): Promise<CursorCodec> {
    this.cursors ??= deploymentSecret(
      this.runtime.registry,
      'cursor_secret',
      'crossShard.cursorSecret',
      this.runtime.settings.checkTimeoutMs,
    ).then(
      (secret) => new CursorCodec(secret),
      (error: unknown) => {
        this.cursors = undefined;
        throw error;
      },
    );
    return this.cursors;
  }

  /**
   * Rows of every (narrowed) shard, merged on `orderBy` + primary key, then `offset`/`limit` applied.
   * Each shard returns at most `limit + offset` rows, so at most shards × (limit + offset) are held.
   * @example
   * const { items } = await crossShard.find(User, { active: true }, { orderBy: { createdAt: 'desc' }, limit: 20 });
   */
  async find<T extends object>(
    entity: EntityName<T>,
    where: FilterQuery<T> = {} as FilterQuery<T>,
    options: CrossShardFindOptions<T> = {},
  ): Promise<CrossShardResult<T>> {
    const meta = this.meta(entity);
    const caller = `CrossShardQuery.find(${meta.className})`;
    const terms = totalOrder(meta, options.orderBy, caller);
    const { maxOffset, maxRows } = this.settings;
    const offset = count(options.offset ?? 0, 'offset', caller);
    if (offset > maxOffset)
      throw tooMuch(caller, 'maxOffset', `offset ${offset} is over crossShard.maxOffset (${maxOffset})`);
    const limit = options.limit === undefined ? undefined : count(options.limit, 'limit', caller);
    if (limit !== undefined && limit > maxRows)
      throw tooMuch(caller, 'maxRows', `limit ${limit} is over crossShard.maxRows (${maxRows})`);
    // without a limit, one row more than allowed per shard tells that the answer would be too big
    const perShard = limit === undefined ? offset + maxRows + 1 : limit + offset;
    const read = sortedReader(
      {
        entity,
        meta,
        where: asFilter(meta, where),
        terms,
        limit: perShard,
        fields: options.fields,
        populate: options.populate,
      },
      this.compiler,
    );
    const { results, missing } = await this.onShards(meta, where, options, caller, read);
    const chosen = mergeSorted([...results.values()], byKey(terms), offset, limit ?? maxRows + 1);
    if (chosen.length > maxRows)
      throw tooMuch(caller, 'maxRows', `more than crossShard.maxRows (${maxRows}) rows match`);
    return { items: chosen.map((c) => c.take()), missingShards: missing };
  }

  /**
   * One page of keyset pagination across shards: every shard seeks past the cursor's sort key, so a
   * deep page costs about what the first does. `nextCursor` is opaque, signed, and only valid for
   * the same entity, `orderBy` and `where` (else `InvalidCursorError`).
   */
  async findByCursor<T extends object>(
    entity: EntityName<T>,
    where: FilterQuery<T> = {} as FilterQuery<T>,
    options: CrossShardCursorOptions<T>,
  ): Promise<CrossShardPage<T>> {
    const meta = this.meta(entity);
    const caller = `CrossShardQuery.findByCursor(${meta.className})`;
    const terms = totalOrder(meta, options.orderBy, caller);
    const first = count(options?.first, 'first', caller, 1);
    if (first > this.settings.maxRows) {
      throw tooMuch(caller, 'maxRows', `first ${first} is over crossShard.maxRows (${this.settings.maxRows})`);
    }
    const fingerprint = this.fingerprint(meta, terms, where);
    const cursors = await this.cursorCodec();
    const after = options.after ? cursors.decode(options.after, fingerprint, terms, caller) : undefined;
    const seek = after ? { $and: [asFilter(meta, where), keysetFilter(terms, after)] } : asFilter(meta, where);
    // one more row than the page tells whether a next page exists
    const read = sortedReader(
      { entity, meta, where: seek, terms, limit: first + 1, fields: options.fields, populate: options.populate },
      this.compiler,
    );
    const { results, missing } = await this.onShards(meta, where, options, caller, read);
    const merged = mergeSorted([...results.values()], byKey(terms), 0, first + 1);
    const page = merged.slice(0, first);
    const hasNextPage = merged.length > first;
    const last = page.at(-1);
    return {
      items: page.map((c) => c.take()),
      hasNextPage,
      nextCursor: hasNextPage && last ? cursors.encode(fingerprint, last.key) : null,
      missingShards: missing,
    };
  }

  /**
   * The merged result as an async iterator, for exports: each shard is read in keyset batches of
   * `batchSize`, so memory stays about 2 × shards × batchSize rows (one batch read ahead) whatever the total. Entities are
   * not kept in any identity map. `missingShards` fills in as shards fail (`partial` mode).
   */
  stream<T extends object>(
    entity: EntityName<T>,
    where: FilterQuery<T> = {} as FilterQuery<T>,
    options: CrossShardStreamOptions<T> = {},
  ): CrossShardStream<T> {
    const meta = this.meta(entity);
    const caller = `CrossShardQuery.stream(${meta.className})`;
    const terms = totalOrder(meta, options.orderBy, caller);
    const batchSize = count(options.batchSize ?? this.settings.streamBatchSize, 'batchSize', caller, 1);
    const base = asFilter(meta, where);
    return new CrossShardStream<T>({
      sharding: this.sharding,
      settings: this.fanOutSettings(options, caller),
      shards: () => this.targetShards(meta, where, options, caller),
      terms,
      batch: (em, signal, after) =>
        em.find(
          entity,
          (after ? { $and: [base, keysetFilter(terms, after)] } : base) as never,
          {
            orderBy: toOrderBy(terms),
            limit: batchSize,
            fields: withSortFields(options.fields, terms),
            disableIdentityMap: true,
            signal,
            ...CANCEL,
          } as never,
        ) as Promise<T[]>,
      batchSize,
    });
  }

  /** Rows matching `where` on every (narrowed) shard. */
  async count<T extends object>(
    entity: EntityName<T>,
    where: FilterQuery<T> = {} as FilterQuery<T>,
    options: CrossShardCallOptions = {},
  ): Promise<{ count: number; missingShards: CrossShardResult<never>['missingShards'] }> {
    const meta = this.meta(entity);
    const caller = `CrossShardQuery.count(${meta.className})`;
    const { results, missing } = await this.onShards(meta, where, options, caller, (em, signal) =>
      em.count(entity, where as never, { signal, ...CANCEL } as never),
    );
    return { count: [...results.values()].reduce((a, b) => a + b, 0), missingShards: missing };
  }

  /**
   * COUNT / SUM / MIN / MAX / AVG, optionally per `groupBy`, computed by each shard and merged:
   * AVG is Σsum / Σcount (never an average of averages), sums stay exact. Groups come sorted by
   * their values ascending, NULLs last. See `AggregateRow` for the value types.
   * @example
   * await crossShard.aggregate(Order, {}, { groupBy: ['status'], count: true, sum: ['amount'], avg: ['amount'] });
   */
  async aggregate<T extends object>(
    entity: EntityName<T>,
    where: FilterQuery<T> = {} as FilterQuery<T>,
    options: CrossShardAggregateOptions,
  ): Promise<CrossShardResult<AggregateRow>> {
    const meta = this.meta(entity);
    const caller = `CrossShardQuery.aggregate(${meta.className})`;
    const plan = planAggregate(meta, options ?? {}, caller);
    const { results, missing } = await this.onShards(meta, where, options, caller, async (em, signal) => {
      const qb = em
        .createQueryBuilder(entity, 'e')
        .select(plan.select.map(([alias, sql]) => raw(`${sql} as "${alias}"`)))
        .where(where as never);
      if (plan.groupBy.length) qb.groupBy(plan.groupBy.map((g) => g.property) as never);
      qb.setAbortOptions({ signal, ...CANCEL });
      return qb.execute<Record<string, unknown>[]>('all', false);
    });
    return { items: mergeAggregates(plan, [...results.values()]), missingShards: missing };
  }

  private async onShards<R>(
    meta: EntityMetadata,
    where: unknown,
    options: CrossShardCallOptions,
    caller: string,
    task: ShardTask<R>,
  ) {
    const shards = await this.targetShards(meta, where, options, caller);
    return fanOut(this.sharding, shards, this.fanOutSettings(options, caller), task);
  }

  private fanOutSettings(options: CrossShardCallOptions, caller: string): FanOutSettings {
    const concurrency = options.concurrency ?? this.settings.concurrency;
    const timeoutMs = options.timeoutMs ?? this.settings.timeoutMs;
    const onShardFailure = options.onShardFailure ?? this.settings.onShardFailure;
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
      throw new CrossShardQueryError(`${caller}: concurrency must be a positive integer (got ${concurrency}).`);
    }
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new CrossShardQueryError(`${caller}: timeoutMs must be a positive number (got ${timeoutMs}).`);
    }
    if (onShardFailure !== 'fail' && onShardFailure !== 'partial') {
      throw new CrossShardQueryError(
        `${caller}: onShardFailure must be 'fail' or 'partial' (got ${String(onShardFailure)}).`,
      );
    }
    return { caller, primary: options.primary ?? false, concurrency, timeoutMs, onShardFailure };
  }

  /** Every shard (or `options.shards`), less those a shard-key `where` rules out. */
  private async targetShards(
    meta: EntityMetadata,
    where: unknown,
    options: CrossShardCallOptions,
    caller: string,
  ): Promise<string[]> {
    const all = this.runtime.shardNames;
    const unknown = options.shards?.filter((s) => !all.includes(s)) ?? [];
    if (unknown.length) {
      throw new CrossShardQueryError(
        `${caller}: shards ${unknown.join(', ')} are not configured (known: ${all.join(', ')}).`,
      );
    }
    const shards = options.shards ? all.filter((s) => options.shards!.includes(s)) : [...all];
    const keyProperty =
      options.shardKey === null ? undefined : (options.shardKey ?? this.settings.shardKeys[meta.className]);
    if (!keyProperty) return shards;
    if (!(keyProperty in meta.properties)) {
      throw new CrossShardQueryError(
        `${caller}: the shard key "${keyProperty}" configured for ${meta.className} is not one of its properties; fix crossShard.shardKeys.`,
      );
    }
    const keys = narrowedKeys(where, keyProperty, meta.primaryKeys.length === 1 && meta.primaryKeys[0] === keyProperty);
    if (!keys) return shards;
    const owners = new Set(await Promise.all(keys.map((key) => this.runtime.shardFor(key))));
    return shards.filter((s) => owners.has(s));
  }

  private fingerprint(meta: EntityMetadata, terms: readonly SortTerm[], where: unknown): string {
    return queryFingerprint([meta.className, terms.map((t) => [t.property, t.descending, t.nullsFirst]), where]);
  }

  private meta(entity: EntityName): EntityMetadata {
    const metadata = this.runtime.registry.nodes[0].orm.getMetadata();
    const meta = metadata.find(entity);
    if (!meta) {
      throw new CrossShardQueryError(
        `CrossShardQuery: ${String((entity as { name?: string }).name ?? entity)} is not an entity of this ShardingModule; add it to mikroOrm.entities.`,
      );
    }
    return meta;
  }
}

/** A where in object form, so it can be combined with a keyset condition (`42` → `{ id: 42 }`). */
function asFilter(meta: EntityMetadata, where: unknown): object {
  if (typeof where === 'object' && where !== null && !Array.isArray(where)) return where;
  return { [meta.primaryKeys[0]]: where };
}

/** With partial loading, the merge still needs every sort property. */
function withSortFields(fields: readonly string[] | undefined, terms: readonly SortTerm[]): string[] | undefined {
  if (!fields) return undefined;
  return [...new Set([...fields, ...terms.map((t) => t.property)])];
}

/** Candidates compare by their sort keys, read once per row. */
function byKey(terms: readonly SortTerm[]) {
  return (a: Candidate<unknown>, b: Candidate<unknown>) => compareKeys(terms, a.key, b.key);
}

function count(value: unknown, name: string, caller: string, min = 0): number {
  if (!(Number.isSafeInteger(value) && (value as number) >= min)) {
    throw new CrossShardQueryError(`${caller}: ${name} must be an integer >= ${min} (got ${String(value)}).`);
  }
  return value as number;
}

/** One request may not hold more than the bounds allow: the way to get more is a cursor or a stream. */
function tooMuch(caller: string, bound: CrossShardBoundError['bound'], what: string): CrossShardBoundError {
  return new CrossShardBoundError(
    `${caller}: ${what}. Each shard returns limit + offset rows to be merged, so deep offsets and big pages cost ` +
      'memory and time on every shard: page with findByCursor(), read everything with stream(), or raise the bound.',
    bound,
  );
}
