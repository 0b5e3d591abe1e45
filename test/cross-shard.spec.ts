import { createHash, createHmac } from 'node:crypto';
import { raw } from '@mikro-orm/postgresql';
import { Test } from '@nestjs/testing';
import {
  CrossShardBoundError,
  CrossShardQuery,
  InvalidCursorError,
  NodeRegistry,
  ShardingModule,
  ShardingSchema,
  ShardingService,
} from '../lib/index.js';
import { plain, referenceFind, SEED, setUp, tearDown, type Setup } from './support/cross-shard-setup.js';
import { Item, LABELS, prng, type ItemRow } from './support/items.js';
import { eventually } from './support/pids.js';

const DIRECTIONS = ['asc', 'desc', 'ASC NULLS FIRST', 'asc nulls last', 'DESC NULLS LAST', 'desc nulls first', 1, -1];
const SORTABLE = ['score', 'label', 'amount', 'price', 'createdAt', 'rank', 'grp', 'id'] as const;

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

  afterAll(() => tearDown(setup));

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

    // another instance of the same deployment takes the cursor; one with another cursorSecret refuses it
    const instance = async (crossShard: object) => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          ShardingModule.forRoot({ shards: setup.topology.shards, mikroOrm: { entities: [Item] }, crossShard }),
        ],
      }).compile();
      return moduleRef.init();
    };
    const twin = await instance({ shardKeys: { Item: 'id' } });
    const signed = await instance({ cursorSecret: 'a secret of our own' });
    try {
      const next = await twin
        .get(CrossShardQuery)
        .findByCursor(Item, {}, { orderBy: { rank: 'asc' }, first: 5, after: cursor });
      const expected = await setup.query.findByCursor(Item, {}, { orderBy: { rank: 'asc' }, first: 5, after: cursor });
      expect(next.items.map(plain)).toEqual(expected.items.map(plain));
      await expect(
        signed.get(CrossShardQuery).findByCursor(Item, {}, { orderBy: { rank: 'asc' }, first: 5, after: cursor }),
      ).rejects.toThrow(InvalidCursorError);
      // the shared key is random, kept on the first shard, derived from nothing a client can see: a
      // cursor re-signed with a key made from the topology (what 0.3 did) is refused
      const [{ value }] = await setup.topology
        .server(setup.topology.servers[0].shard)
        .query<{ value: string }>("select value from sharding_metadata where key = 'cursor_secret'");
      expect(value.length).toBeGreaterThanOrEqual(40);
      const registry = setup.moduleRef.get(NodeRegistry);
      const topologyKey = createHash('sha256')
        .update(`nestjs-mikro-orm-sharding cursors\n${registry.nodes.map((n) => `${n.id}=${n.address}`).join('\n')}`)
        .digest('base64url');
      const [body] = cursor.split('.');
      const resigned = `${body}.${createHmac('sha256', topologyKey).update(body).digest('base64url').slice(0, 22)}`;
      await expect(
        twin.get(CrossShardQuery).findByCursor(Item, {}, { orderBy: { rank: 'asc' }, first: 5, after: resigned }),
      ).rejects.toThrow(/signature/);
      // MikroORM's schema update drops tables that are not entities: never the library's own
      await setup.moduleRef.get(ShardingSchema).update();
      const [kept] = await setup.topology
        .server(setup.topology.servers[0].shard)
        .query<{ value: string }>("select value from sharding_metadata where key = 'cursor_secret'");
      expect(kept?.value).toBe(value);
      await expect(
        twin.get(CrossShardQuery).findByCursor(Item, {}, { orderBy: { rank: 'asc' }, first: 5, after: cursor }),
      ).resolves.toMatchObject({ items: expect.any(Array) });
    } finally {
      await twin.close();
      await signed.close();
    }
  });

  it('bounded work: an offset over maxOffset, a page over maxRows, or a find matching more rows is refused, nothing sent', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ShardingModule.forRoot({
          shards: setup.topology.shards,
          mikroOrm: { entities: [Item] },
          crossShard: { maxOffset: 3, maxRows: 5 },
        }),
      ],
    }).compile();
    const app = await moduleRef.init();
    try {
      const query = app.get(CrossShardQuery);
      const before = app
        .get(NodeRegistry)
        .health()
        .reduce((sum, n) => sum + n.counters.queries, 0);
      for (const [call, bound] of [
        [() => query.find(Item, {}, { offset: 4, limit: 1 }), 'maxOffset'],
        [() => query.find(Item, {}, { limit: 6 }), 'maxRows'],
        [() => query.findByCursor(Item, {}, { first: 6 }), 'maxRows'],
      ] as const) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CrossShardBoundError);
        expect(error).toMatchObject({ bound, message: expect.stringMatching(/findByCursor\(\)/) });
      }
      expect(
        app
          .get(NodeRegistry)
          .health()
          .reduce((sum, n) => sum + n.counters.queries, 0),
      ).toBe(before);
      // within the bounds: answered; a find without a limit that matches more than maxRows: refused
      expect((await query.find(Item, {}, { offset: 3, limit: 5 })).items).toHaveLength(5);
      await expect(query.find(Item, {})).rejects.toThrow(/more than crossShard.maxRows \(5\) rows match/);
    } finally {
      await app.close();
    }
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

    // narrowing turned off for one call: the same key equality runs everywhere
    const unnarrowed = await statementsPerNode(setup, () =>
      setup.moduleRef.get(ShardingService).crossShard.count(Item, { id: ids[0] }, { primary: true, shardKey: null }),
    );
    expect(touched(unnarrowed)).toEqual([...setup.moduleRef.get(ShardingService).shards].sort());
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

    const forced = await statementsPerNode(setup, () => setup.query.count(Item, {}, { primary: true }));
    expect(Object.keys(forced).filter((name) => forced[name] > 0)).toEqual(
      setup.moduleRef.get(ShardingService).shards.map((s) => `${s}-primary`),
    );
  });

  // only meaningful with replicas: the 4-shard topology has none, so the test is not registered there
  if (replicasPerShard)
    it('after a write in the same context, the written shard is read from its primary, the others from replicas', async () => {
      const sharding = setup.moduleRef.get(ShardingService);
      const id = '987654321987';
      const written = await sharding.shardFor(id);
      const others = sharding.shards.filter((s) => s !== written);
      const counts = await statementsPerNode(setup, () =>
        sharding.withContext(async () => {
          await sharding.run({ key: id }, async (em) => {
            em.create(Item, { id, grp: 'fresh', rank: 1 });
            await em.flush();
          });
          // a replica may not have replayed the insert yet; the primary has it
          expect((await setup.query.count(Item, { grp: 'fresh' })).count).toBe(1);
        }),
      );
      await sharding.run({ key: id }, (em) => em.nativeDelete(Item, { id }));
      expect(counts[`${written}-primary`]).toBe(1);
      expect(counts[`${written}-replica-1`]).toBe(0);
      for (const shard of others) expect([counts[`${shard}-primary`], counts[`${shard}-replica-1`]]).toEqual([0, 1]);
    });
});
