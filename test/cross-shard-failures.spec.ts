import pg from 'pg';
import { CrossShardQueryError, ReplicationMonitor } from '../lib/index.js';
import { plain, referenceFind, SEED, setUp, tearDown, type Setup } from './support/cross-shard-setup.js';
import { Item } from './support/items.js';
import { eventually } from './support/pids.js';

describe('cross-shard queries when a shard fails', () => {
  let setup: Setup;
  const seed = SEED + 99;

  beforeAll(async () => {
    setup = await setUp(3, 0, seed);
  });

  afterAll(() => tearDown(setup));

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
    // the shard is back; once the health monitor has seen it (its next check), queries see all of it again
    await setup.moduleRef.get(ReplicationMonitor).checkNow();
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
