import { Test, type TestingModule } from '@nestjs/testing';
import {
  MisplacedEntityError,
  ShardingModule,
  ShardingSchema,
  ShardingService,
  ShardRoutingError,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { Account, Note } from './support/entities.js';

/**
 * SQLAlchemy's ShardedSession, here: one session over 4 shards, each entity placed by its own key,
 * lookups by primary key routed by the key, finds narrowed by the key or fanned out. Proven by where the
 * rows are on the servers.
 */
describe('ShardedSession: each entity on the shard its own key says', () => {
  let topology: EmbeddedTopology;
  let moduleRef: TestingModule;
  let sharding: ShardingService;

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 4, replicasPerShard: 0 });
    moduleRef = await Test.createTestingModule({
      imports: [
        ShardingModule.forRoot({
          shards: topology.shards,
          mikroOrm: { entities: [Account, Note] },
          shardKeys: { Account: 'id' },
        }),
      ],
    }).compile();
    await moduleRef.init();
    await moduleRef.get(ShardingSchema).refresh();
    sharding = moduleRef.get(ShardingService);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await topology?.stop();
  });

  it('100 entities created and flushed in one session: each row exactly on its key’s shard; findOne and find read them back', async () => {
    const session = sharding.session();
    const ids = Array.from({ length: 100 }, (_, i) => `session-${i}`);
    for (const id of ids) await session.create(Account, { id, name: `n-${id}` });
    await session.flush();

    const expectedShard = new Map(await Promise.all(ids.map(async (id) => [id, await sharding.shardFor(id)] as const)));
    expect(new Set(expectedShard.values()).size).toBe(4); // the keys really spread over the 4 shards
    for (const shard of sharding.shards) {
      const rows = await topology
        .server(shard)
        .query<{ id: string }>("select id from accounts where id like 'session-%'");
      expect(rows.map((r) => r.id).sort()).toEqual(ids.filter((id) => expectedShard.get(id) === shard).sort());
    }

    const fresh = sharding.session();
    const found = await fresh.findOne(Account, 'session-42');
    expect(found).toMatchObject({ id: 'session-42', name: 'n-session-42' });
    expect(await fresh.findOne(Account, 'session-none')).toBeNull();
    expect((await fresh.find(Account, {})).filter((a) => a.id.startsWith('session-'))).toHaveLength(100);
    // narrowed by the key: one shard asked, the right row
    expect((await fresh.find(Account, { id: 'session-7' })).map((a) => a.id)).toEqual(['session-7']);

    // changes and removals go back to each entity's own shard
    found!.name = 'renamed';
    await fresh.remove((await fresh.findOne(Account, 'session-8'))!);
    await fresh.flush();
    const [renamed] = await topology
      .server(expectedShard.get('session-42')!)
      .query<{ name: string }>("select name from accounts where id = 'session-42'");
    expect(renamed.name).toBe('renamed');
    expect(
      await topology.server(expectedShard.get('session-8')!).query("select 1 from accounts where id = 'session-8'"),
    ).toEqual([]);
  });

  it('an entity the map does not name cannot be placed; a re-keyed entity is refused by the placement guard', async () => {
    const session = sharding.session();
    await expect(session.create(Note, { body: 'x' })).rejects.toThrow(ShardRoutingError);
    const account = await session.create(Account, { id: 'session-move', name: 'm' });
    await session.flush();
    const ids = Array.from({ length: 20 }, (_, i) => `session-move-${i}`);
    const home = await sharding.shardFor('session-move');
    const elsewhere = (await Promise.all(ids.map(async (id) => [id, await sharding.shardFor(id)] as const))).find(
      ([, shard]) => shard !== home,
    )![0];
    account.id = elsewhere; // a primary key change would move the row to another shard
    await expect(session.flush()).rejects.toThrow(MisplacedEntityError);
  });
});
