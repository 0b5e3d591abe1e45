import { MikroORM, raw } from '@mikro-orm/postgresql';
import { Test, type TestingModule } from '@nestjs/testing';
import pg from 'pg';
import {
  CrossShardQuery,
  CrossShardQueryError,
  InvalidCursorError,
  NodeRegistry,
  ShardingModule,
  ShardingSchema,
  ShardingService,
  waitForReplicas,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { Item, LABELS, prng, randomRows, type ItemRow } from './support/items.js';
import { eventually } from './support/pids.js';

const SEED = Number(process.env.CROSS_SHARD_SEED ?? Date.now() % 2 ** 31);
const DIRECTIONS = ['asc', 'desc', 'ASC NULLS FIRST', 'asc nulls last', 'DESC NULLS LAST', 'desc nulls first', 1, -1];
const SORTABLE = ['score', 'label', 'amount', 'price', 'createdAt', 'rank', 'grp', 'id'] as const;

/** A plain, comparable form of a row (Dates as ISO text). */
const plain = (item: ItemRow) => ({
  id: item.id,
  score: item.score ?? null,
  label: item.label ?? null,
  amount: item.amount ?? null,
  price: item.price ?? null,
  createdAt: item.createdAt ? new Date(item.createdAt).toISOString() : null,
  grp: item.grp,
  rank: item.rank,
});

interface Setup {
  topology: EmbeddedTopology;
  moduleRef: TestingModule;
  query: CrossShardQuery;
  reference: MikroORM;
  rows: ItemRow[];
  shardOf: Map<string, string>;
  logs: Map<string, string[]>;
}

async function setUp(shards: number, replicasPerShard: number, seed: number): Promise<Setup> {
  const logs = new Map<string, string[]>();
  const topology = await startEmbeddedTopology({
    shards,
    replicasPerShard,
    // every statement a server runs shows in its log: the proof of which shards a query touched
    settings: { log_statement: 'all' },
    onLog: (node, line) => {
      if (!logs.has(node)) logs.set(node, []);
      logs.get(node)!.push(line);
    },
  });
  const moduleRef = await Test.createTestingModule({
    imports: [
      ShardingModule.forRoot({
        shards: topology.shards,
        mikroOrm: { entities: [Item] },
        crossShard: { shardKeys: { Item: 'id' }, concurrency: 3 },
      }),
    ],
  }).compile();
  await moduleRef.init();
  await moduleRef.get(ShardingSchema).refresh();
  await topology.server('s0').query('create database reference', [], 'postgres');
  const reference = await MikroORM.init({ ...topology.server('s0').connection, dbName: 'reference', entities: [Item] });
  await reference.schema.refresh();

  const rows = randomRows(prng(seed), 420);
  const sharding = moduleRef.get(ShardingService);
  const shardOf = new Map<string, string>();
  for (const row of rows) shardOf.set(row.id, await sharding.shardFor(row.id));
  const registry = moduleRef.get(NodeRegistry);
  await Promise.all(
    sharding.shards.map((shard) =>
      registry.fork(shard).insertMany(
        Item,
        rows.filter((r) => shardOf.get(r.id) === shard),
      ),
    ),
  );
  await reference.em.fork().insertMany(Item, rows);
  await Promise.all(topology.servers.filter((s) => s.role === 'primary').map((s) => s.query('analyze items')));
  await waitForReplicas(registry);
  return { topology, moduleRef, query: moduleRef.get(CrossShardQuery), reference, rows, shardOf, logs };
}

/** Random filters a user could write, with values taken from the data. */
function randomWhere(random: () => number, rows: ItemRow[]): object {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const someIds = () => Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(rows).id);
  const choices: (() => object)[] = [
    () => ({}),
    () => ({ score: { $gt: Math.floor(random() * 20) - 5 } }),
    () => ({ score: null }),
    () => ({ label: { $in: [pick(LABELS), pick(LABELS)] } }),
    () => ({ grp: pick(['x', 'y', 'z']) }),
    () => ({ $or: [{ score: { $lt: 3 } }, { label: null }] }),
    () => ({ createdAt: { $gte: pick(rows.filter((r) => r.createdAt)).createdAt } }),
    () => ({ id: { $in: [...someIds(), '424242424242424'] } }),
    () => ({ id: pick(rows).id }),
    () => ({ rank: { $lte: Math.floor(random() * 60) }, grp: { $ne: 'y' } }),
  ];
  return pick(choices)();
}

function randomOrderBy(random: () => number): Record<string, unknown>[] {
  const terms = [...SORTABLE].sort(() => random() - 0.5).slice(0, Math.floor(random() * 4));
  return terms.map((property) => ({ [property]: DIRECTIONS[Math.floor(random() * DIRECTIONS.length)] }));
}

/** One database's answer: the same filter and order, the primary key as final tie-breaker. */
function referenceFind(
  setup: Setup,
  where: object,
  orderBy: Record<string, unknown>[],
  limit?: number,
  offset?: number,
) {
  const total = orderBy.some((o) => 'id' in o) ? orderBy : [...orderBy, { id: 'asc' }];
  return setup.reference.em
    .fork()
    .find(Item, where as never, { orderBy: total as never, limit, offset })
    .then((items) => items.map(plain));
}

/** How many statements on `items` each node ran while `fn` ran, read from the servers' own logs. */
async function statementsPerNode(setup: Setup, fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const marker = async (tag: string) => {
    await Promise.all(setup.topology.servers.map((s) => s.query(`select '${tag}'`)));
    const seen = await eventually(() =>
      setup.topology.servers.every((s) => setup.logs.get(s.name)?.some((line) => line.includes(tag))),
    );
    expect(seen).toBe(true);
  };
  const tag = `marker-${Math.random().toString(36).slice(2)}`;
  await marker(`${tag}-start`);
  await fn();
  await marker(`${tag}-end`);
  const counts: Record<string, number> = {};
  for (const server of setup.topology.servers) {
    const lines = setup.logs.get(server.name) ?? [];
    const start = lines.findIndex((line) => line.includes(`${tag}-start`));
    const end = lines.findIndex((line) => line.includes(`${tag}-end`));
    counts[server.name] = lines.slice(start, end).filter((line) => /statement: .*from "items"/i.test(line)).length;
  }
  return counts;
}

describe.each([
  { shards: 2, replicasPerShard: 1 },
  { shards: 4, replicasPerShard: 0 },
])('cross-shard queries on $shards shards ($replicasPerShard replica per shard)', ({ shards, replicasPerShard }) => {
  let setup: Setup;
  const seed = SEED + shards;

  beforeAll(async () => {
    console.log(`cross-shard property tests: seed ${seed} (rerun with CROSS_SHARD_SEED=${SEED})`);
    setup = await setUp(shards, replicasPerShard, seed);
  });

  afterAll(async () => {
    await setup?.reference.close(true);
    await setup?.moduleRef.close();
    await setup?.topology.stop();
  });

  it('find: random where / orderBy / limit / offset give exactly the one-database answer', async () => {
    const random = prng(seed * 7);
    for (let round = 0; round < 60; round++) {
      const where = randomWhere(random, setup.rows);
      const orderBy = randomOrderBy(random);
      const limit = random() < 0.2 ? undefined : Math.floor(random() * 40);
      const offset = random() < 0.4 ? 0 : Math.floor(random() * 60);
      // every fields (em.find on each shard) or none (SQL compiled once, rows merged, winners hydrated)
      const fields = random() < 0.3 ? [...SORTABLE, 'grp'] : undefined;
      const sharded = await setup.query.find(Item, where as never, {
        orderBy: orderBy as never,
        limit,
        offset,
        fields: fields as never,
      });
      const expected = await referenceFind(setup, where, orderBy, limit, offset);
      expect({ seed, round, where, orderBy, limit, offset, rows: sharded.items.map(plain) }).toEqual({
        seed,
        round,
        where,
        orderBy,
        limit,
        offset,
        rows: expected,
      });
      expect(sharded.missingShards).toEqual([]);
    }
  });

  it('findByCursor: every page equals the reference slice, and walking all pages returns every row once', async () => {
    const random = prng(seed * 13);
    for (let walk = 0; walk < 8; walk++) {
      const where = random() < 0.5 ? {} : randomWhere(random, setup.rows);
      const orderBy = randomOrderBy(random);
      const first = 1 + Math.floor(random() * 45);
      const all = await referenceFind(setup, where, orderBy);
      const seen: ReturnType<typeof plain>[] = [];
      let after: string | null = null;
      for (let page = 0; page < 1_000; page++) {
        const result: Awaited<ReturnType<CrossShardQuery['findByCursor']>> = await setup.query.findByCursor(
          Item,
          where as never,
          { orderBy: orderBy as never, first, after, fields: walk % 2 ? ([...SORTABLE] as never) : undefined },
        );
        expect({ seed, walk, page, rows: (result.items as ItemRow[]).map(plain) }).toEqual({
          seed,
          walk,
          page,
          rows: all.slice(seen.length, seen.length + first),
        });
        seen.push(...(result.items as ItemRow[]).map(plain));
        expect(result.hasNextPage).toBe(seen.length < all.length);
        after = result.nextCursor;
        if (!after) break;
      }
      expect(seen.map((r) => r.id)).toEqual(all.map((r) => r.id));
      expect(new Set(seen.map((r) => r.id)).size).toBe(seen.length);
    }
  });

  it('stream: the merged export equals the reference order, in small batches', async () => {
    const random = prng(seed * 17);
    for (let round = 0; round < 4; round++) {
      const where = round === 0 ? {} : randomWhere(random, setup.rows);
      const orderBy = randomOrderBy(random);
      const streamed: ReturnType<typeof plain>[] = [];
      for await (const item of setup.query.stream(Item, where as never, { orderBy: orderBy as never, batchSize: 7 })) {
        streamed.push(plain(item as ItemRow));
      }
      expect({ seed, round, rows: streamed }).toEqual({
        seed,
        round,
        rows: await referenceFind(setup, where, orderBy),
      });
    }
  });

  it('count and aggregate (COUNT / SUM / MIN / MAX / AVG, GROUP BY) equal what PostgreSQL computes on one database', async () => {
    const random = prng(seed * 19);
    for (let round = 0; round < 12; round++) {
      const where = round === 0 ? {} : randomWhere(random, setup.rows);
      const groupBy = [[], ['grp'], ['label'], ['grp', 'score']][round % 4];
      const { count } = await setup.query.count(Item, where as never);
      expect(count).toBe(await setup.reference.em.fork().count(Item, where as never));

      const { items } = await setup.query.aggregate(Item, where as never, {
        groupBy,
        count: true,
        sum: ['amount', 'price', 'score'],
        min: ['label', 'createdAt', 'amount'],
        max: ['label', 'createdAt', 'price'],
        avg: ['score', 'amount', 'price'],
      });
      const qb = setup.reference.em
        .fork()
        .createQueryBuilder(Item, 'e')
        .select([
          ...groupBy.map((g, i) => raw(`e.${g === 'grp' ? 'grp' : g} as g${i}`)),
          raw('count(*) as n'),
          raw('sum(amount) as sa, sum(price) as sp, sum(score) as ss'),
          raw('min(label) as minl, min(created_at) as minc, min(amount) as mina'),
          raw('max(label) as maxl, max(created_at) as maxc, max(price) as maxp'),
          raw('avg(score) as avs, avg(amount) as ava, avg(price) as avp'),
        ])
        .where(where as never);
      if (groupBy.length) qb.groupBy(groupBy as never);
      const rows = await qb.execute<Record<string, unknown>[]>('all', false);
      const expected = rows.map((r) => ({
        group: Object.fromEntries(groupBy.map((g, i) => [g, r[`g${i}`]])),
        count: Number(r.n),
        sum: { amount: r.sa, price: r.sp, score: r.ss },
        min: { label: r.minl, createdAt: r.minc, amount: r.mina },
        max: { label: r.maxl, createdAt: r.maxc, price: r.maxp },
        avg: { score: r.avs, amount: r.ava, price: r.avp },
      }));
      const key = (row: { group: object }) => JSON.stringify(row.group);
      // one database returns groups in no particular order: compare as sets, and check ours is sorted
      expect({ seed, round, where, groupBy, items: [...items].sort((a, b) => key(a).localeCompare(key(b))) }).toEqual({
        seed,
        round,
        where,
        groupBy,
        items: expected.sort((a, b) => key(a).localeCompare(key(b))),
      });
    }
  });

  it('cursors are validated: tampered, foreign (other where / order) and garbage cursors fail clearly', async () => {
    const page = await setup.query.findByCursor(Item, {}, { orderBy: { rank: 'asc' }, first: 5 });
    const cursor = page.nextCursor!;
    expect(cursor).toEqual(expect.any(String));
    const [body, mac] = cursor.split('.');
    const flipped = `${body.slice(0, -2)}${body.at(-2) === 'A' ? 'B' : 'A'}${body.at(-1)}.${mac}`;
    await expect(
      setup.query.findByCursor(Item, {}, { orderBy: { rank: 'asc' }, first: 5, after: flipped }),
    ).rejects.toThrow(InvalidCursorError);
    await expect(
      setup.query.findByCursor(Item, { grp: 'x' }, { orderBy: { rank: 'asc' }, first: 5, after: cursor }),
    ).rejects.toThrow(/another query/);
    await expect(
      setup.query.findByCursor(Item, {}, { orderBy: { rank: 'desc' }, first: 5, after: cursor }),
    ).rejects.toThrow(/another query/);
    await expect(setup.query.findByCursor(Item, {}, { first: 5, after: 'garbage' })).rejects.toThrow(/not a cursor/);
  });

  it('a where on the shard key runs only on the shards holding those keys (server logs), anything else on all', async () => {
    const ids = setup.rows.slice(0, 3).map((r) => r.id);
    const owners = new Set(ids.map((id) => setup.shardOf.get(id)!));
    const touched = (counts: Record<string, number>) =>
      Object.entries(counts)
        .filter(([, n]) => n > 0)
        .map(([name]) => name.replace(/-.*/, ''))
        .sort();

    const one = await statementsPerNode(setup, async () => {
      const { items } = await setup.query.find(Item, { id: ids[0] }, { primary: true });
      expect(items.map((i) => i.id)).toEqual([ids[0]]);
    });
    expect(touched(one)).toEqual([setup.shardOf.get(ids[0])]);
    expect(one[`${setup.shardOf.get(ids[0])}-primary`]).toBe(1);

    const some = await statementsPerNode(setup, () =>
      setup.query.find(Item, { $and: [{ id: { $in: ids } }, { rank: { $gte: 0 } }] }, { primary: true }),
    );
    expect(touched(some)).toEqual([...owners].sort());

    const all = await statementsPerNode(setup, () =>
      setup.query.count(Item, { $or: [{ id: ids[0] }, { id: ids[1] }] }, { primary: true }),
    );
    expect(touched(all)).toEqual([...setup.moduleRef.get(ShardingService).shards].sort());
  });

  it('reads from replicas by default and from primaries with { primary: true }', async () => {
    const counts = await statementsPerNode(setup, () => setup.query.count(Item));
    const expectedRole = replicasPerShard ? 'replica-1' : 'primary';
    expect(
      Object.entries(counts)
        .filter(([, n]) => n > 0)
        .map(([name]) => name)
        .sort(),
    ).toEqual(setup.moduleRef.get(ShardingService).shards.map((s) => `${s}-${expectedRole}`));
  });
});

describe('cross-shard queries when a shard fails', () => {
  let setup: Setup;
  const seed = SEED + 99;

  beforeAll(async () => {
    setup = await setUp(3, 0, seed);
  });

  afterAll(async () => {
    await setup?.reference.close(true);
    await setup?.moduleRef.close();
    await setup?.topology.stop();
  });

  it("a stopped shard: 'fail' throws CrossShardQueryError naming it, 'partial' answers without it and says so", async () => {
    const orderBy = [{ score: 'desc' }, { label: 'asc' }];
    await setup.topology.server('s1').stop();
    try {
      const failing = setup.query.find(Item, {}, { orderBy: orderBy as never, limit: 50 });
      await expect(failing).rejects.toThrow(CrossShardQueryError);
      await expect(failing).rejects.toThrow(/failed on shard s1 \(s1: .+\)/);

      const partial = await setup.query.find(
        Item,
        {},
        { orderBy: orderBy as never, limit: 50, onShardFailure: 'partial' },
      );
      expect(partial.missingShards.map((m) => m.shard)).toEqual(['s1']);
      const expected = (await referenceFind(setup, {}, orderBy)).filter((r) => setup.shardOf.get(r.id) !== 's1');
      expect(partial.items.map(plain)).toEqual(expected.slice(0, 50));

      const count = await setup.query.count(Item, {}, { onShardFailure: 'partial' });
      expect(count).toMatchObject({ count: expected.length, missingShards: [{ shard: 's1' }] });

      const stream = setup.query.stream(Item, {}, { batchSize: 50, onShardFailure: 'partial' });
      let streamed = 0;
      for await (const item of stream) streamed += item ? 1 : 0;
      expect(streamed).toBe(expected.length);
      expect(stream.missingShards.map((m) => m.shard)).toEqual(['s1']);
    } finally {
      await setup.topology.server('s1').start();
    }
    // the shard is back: the next query sees all of it again
    expect((await setup.query.count(Item)).count).toBe(setup.rows.length);
  });

  it('a shard slower than timeoutMs: its query is cancelled on the server, and the error says so', async () => {
    const server = setup.topology.server('s2');
    const locker = new pg.Client({ ...server.connection, database: server.connection.dbName });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table items in access exclusive mode'); // readers of s2 now wait
      const started = Date.now();
      const result = await setup.query.find(Item, {}, { limit: 5, timeoutMs: 400, onShardFailure: 'partial' });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(result.missingShards).toEqual([{ shard: 's2', error: expect.objectContaining({}) }]);
      expect(result.missingShards[0].error.message).toMatch(/within 400 ms/);
      await expect(setup.query.count(Item, {}, { timeoutMs: 400 })).rejects.toThrow(
        /failed on shard s2 .*within 400 ms/,
      );
      // nothing of ours is still waiting on the server: the statements were cancelled, not abandoned
      const waiting = async () =>
        (
          await server.query<{ n: string }>(
            `select count(*) as n from pg_stat_activity where query ilike '%from "items"%' and pid <> pg_backend_pid() and state = 'active'`,
          )
        )[0].n === '0';
      expect(await eventually(waiting, 5_000)).toBe(true);
    } finally {
      await locker.query('rollback');
      await locker.end();
    }
  });
});
