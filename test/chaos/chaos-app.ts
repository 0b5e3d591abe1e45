import { LockMode } from '@mikro-orm/core';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Param,
  Post,
  Query,
  type DynamicModule,
} from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import {
  CrossShardQuery,
  CrossShardTransaction,
  ReadReplica,
  ShardBy,
  ShardedEntityManager,
  ShardingModule,
  ShardingService,
  type ShardingModuleOptions,
  type ShardsConfig,
} from '../../lib/index.js';
import { AppendedThenReadFailed, ChaosErrorsFilter } from './chaos-errors.filter.js';
import { KeyList } from './key-list.entity.js';

/** How an append reaches the database: both must keep every acknowledged value exactly once. */
export type AppendPath = 'flush' | 'upsert';

/** Hostile values a client may send: each must fail as one bad statement, never take the node out. */
export type HostileKind = 'nul-byte' | 'text-as-integer';

/** A list and the node that served it (`s0-replica-1`: the embedded server's name). */
export interface ServedList {
  list: number[];
  node?: string;
}

/** Appends, reads and cross-shard queries of the fault run, each routed by the library's decorators. */
@Injectable()
export class KeyListService {
  constructor(
    private readonly em: ShardedEntityManager,
    private readonly crossShard: CrossShardQuery,
  ) {}

  /** The unit-of-work path: a transaction that locks the row (or creates it), pushes, flushes. */
  @ShardBy('key')
  async appendByFlush(key: string, value: number): Promise<void> {
    await this.em.transactional(async (em) => {
      const row = await em.findOne(KeyList, key, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (row) row.vals = [...row.vals, value];
      else em.create(KeyList, { key, vals: [value] });
    });
  }

  /** The autocommit path: one upsert statement, no transaction around it. */
  @ShardBy('key')
  async appendByUpsert(key: string, value: number): Promise<void> {
    await this.em.execute(
      'insert into key_list (key, vals) values (?, array[?::integer]) ' +
        'on conflict (key) do update set vals = key_list.vals || excluded.vals',
      [key, value],
    );
  }

  /**
   * The same value appended to two keys in one cross-shard transaction: both lists get it or neither.
   * The keys are locked in key order, whatever order the caller gave: two pairs locking their rows in
   * opposite orders on two shards would wait for each other forever, and no one server sees that cycle
   * (it would last until the transaction's timeout). `timeoutMs` stays under the client's 10 s.
   */
  @CrossShardTransaction({ timeoutMs: 5_000 })
  async appendPair(keys: readonly [string, string], value: number, via: AppendPath): Promise<void> {
    for (const key of [...keys].sort()) {
      if (via === 'flush') await this.appendLocked(key, value);
      else await this.appendByUpsert(key, value);
    }
  }

  /**
   * The unit-of-work path inside a transaction already open (a cross-shard transaction's part): lock the
   * row (or create it), push, flush; the transaction commits.
   */
  @ShardBy('key')
  async appendLocked(key: string, value: number): Promise<void> {
    const row = await this.em.findOne(KeyList, key, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (row) row.vals = [...row.vals, value];
    else this.em.create(KeyList, { key, vals: [value] });
    await this.em.flush();
  }

  /** A replica read (or the primary, when no replica has reached the context's WAL position). */
  @ShardBy('key')
  @ReadReplica()
  async read(key: string): Promise<ServedList> {
    // refresh: after an append in the same context the identity map holds the row; read the server
    const row = await this.em.findOne(KeyList, key, { refresh: true });
    return { list: row?.vals ?? [], node: this.em.currentRoute()?.node.replace('/', '-') };
  }

  /** The lists of `keys` (those that exist), merged across the shards holding them, in key order. */
  async findAll(keys: readonly string[]): Promise<Record<string, number[]>> {
    const { items } = await this.crossShard.find(KeyList, { key: { $in: [...keys] } }, { orderBy: { key: 'asc' } });
    return Object.fromEntries(items.map((row) => [row.key, row.vals]));
  }

  /** How many of `keys` have a list, counted across the shards holding them. */
  async countAll(keys: readonly string[]): Promise<number> {
    return (await this.crossShard.count(KeyList, { key: { $in: [...keys] } })).count;
  }

  /**
   * Sends a hostile value in a statement on the key's shard primary. The statements can never change
   * a row (`and false`): the point is the server's error about the value.
   */
  @ShardBy('key')
  async hostile(key: string, kind: HostileKind): Promise<void> {
    if (kind === 'nul-byte') {
      await this.em.execute('update key_list set vals = vals where key = ? and false', ['a\u0000b']);
    } else {
      await this.em.execute('update key_list set vals = vals where key = ? and length(key) = ?::integer and false', [
        key,
        'connection terminated',
      ]);
    }
  }
}

const KEY = /^[\w-]{1,64}$/;

/** The fault run's HTTP surface; the consistency token travels in `x-shard-consistency`. */
@Controller()
export class KeyListController {
  constructor(
    private readonly lists: KeyListService,
    private readonly sharding: ShardingService,
  ) {}

  @Post('lists/:key/append')
  @HttpCode(200)
  async append(@Param('key') key: string, @Body() body: { value?: unknown; via?: unknown }): Promise<object> {
    await this.appendVia(checkKey(key), body);
    return {};
  }

  /** Append, then read the key in the same request context (read-your-writes within one context). */
  @Post('lists/:key/append-read')
  @HttpCode(200)
  async appendRead(@Param('key') key: string, @Body() body: { value?: unknown; via?: unknown }): Promise<ServedList> {
    await this.appendVia(checkKey(key), body);
    try {
      return await this.lists.read(key);
    } catch (error) {
      throw new AppendedThenReadFailed(error);
    }
  }

  /**
   * `{ value, via }` appended to both keys in one cross-shard transaction. The keys must be on different
   * shards (400 otherwise: the run means to exercise the two-phase commit, not a one-shard commit).
   */
  @Post('pairs/:keyA/:keyB')
  @HttpCode(200)
  async appendPair(
    @Param('keyA') keyA: string,
    @Param('keyB') keyB: string,
    @Body() body: { value?: unknown; via?: unknown },
  ): Promise<object> {
    const keys = [checkKey(keyA), checkKey(keyB)] as const;
    const { value, via } = body ?? {};
    if (!Number.isSafeInteger(value) || (via !== 'flush' && via !== 'upsert')) {
      throw new BadRequestException('Send { "value": integer, "via": "flush" | "upsert" }.');
    }
    const [shardA, shardB] = await Promise.all(keys.map((key) => this.sharding.shardFor(key)));
    if (shardA === shardB) throw new BadRequestException(`${keyA} and ${keyB} are both on shard ${shardA}.`);
    await this.lists.appendPair(keys, value as number, via);
    return {};
  }

  @Get('lists/:key')
  read(@Param('key') key: string): Promise<ServedList> {
    return this.lists.read(checkKey(key));
  }

  /** `?keys=a,b,c`: those keys' lists, across shards. */
  @Get('lists')
  async findAll(@Query('keys') keys: unknown): Promise<{ lists: Record<string, number[]> }> {
    return { lists: await this.lists.findAll(checkKeys(keys)) };
  }

  /** `?keys=a,b,c`: how many of them have a list, across shards. */
  @Get('count')
  async count(@Query('keys') keys: unknown): Promise<{ count: number }> {
    return { count: await this.lists.countAll(checkKeys(keys)) };
  }

  @Post('hostile')
  @HttpCode(200)
  async hostile(@Body() body: { key?: unknown; kind?: unknown }): Promise<object> {
    if (typeof body?.key !== 'string' || (body.kind !== 'nul-byte' && body.kind !== 'text-as-integer')) {
      throw new BadRequestException('Send { "key": string, "kind": "nul-byte" | "text-as-integer" }.');
    }
    await this.lists.hostile(checkKey(body.key), body.kind);
    return {};
  }

  private appendVia(key: string, body: { value?: unknown; via?: unknown }): Promise<void> {
    const { value, via } = body ?? {};
    if (!Number.isSafeInteger(value) || (via !== 'flush' && via !== 'upsert')) {
      throw new BadRequestException('Send { "value": integer, "via": "flush" | "upsert" }.');
    }
    return via === 'flush'
      ? this.lists.appendByFlush(key, value as number)
      : this.lists.appendByUpsert(key, value as number);
  }
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new BadRequestException(`"${key.slice(0, 40)}" is not a key.`);
  return key;
}

/** The Nest application of the fault run, on the given shards. */
@Module({})
export class ChaosAppModule {
  /** `options` adds to or overrides the run's sharding options. */
  static forShards(shards: ShardsConfig, options: Partial<ShardingModuleOptions> = {}): DynamicModule {
    return {
      module: ChaosAppModule,
      imports: [
        ShardingModule.forRoot({
          shards,
          mikroOrm: { entities: [KeyList] },
          // a quick monitor: failures and promotions are seen within a fraction of a second
          health: { intervalMs: 250, timeoutMs: 1_000 },
          // sessions pass their token along: their reads must never go back in time (the checker's rule)
          readReplicas: { monotonicReads: true },
          // a frozen shard fails a cross-shard read well before the client's own timeout
          crossShard: { shardKeys: { KeyList: 'key' }, timeoutMs: 5_000 },
          // prepared parts a fault left behind are resolved during the run too, not only at its end
          transactions: { recoveryIntervalMs: 1_000, graceMs: 2_000 },
          ...options,
        }),
      ],
      controllers: [KeyListController],
      providers: [KeyListService, { provide: APP_FILTER, useClass: ChaosErrorsFilter }],
    };
  }
}

function checkKeys(keys: unknown): string[] {
  const list = typeof keys === 'string' ? keys.split(',') : [];
  if (!list.length || list.length > 1_000) throw new BadRequestException('Send ?keys=a,b,c (1 to 1000 keys).');
  return list.map(checkKey);
}
