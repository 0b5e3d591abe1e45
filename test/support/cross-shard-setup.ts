import { MikroORM } from '@mikro-orm/postgresql';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CrossShardQuery,
  NodeRegistry,
  ShardingModule,
  ShardingSchema,
  ShardingService,
  waitForReplicas,
} from '../../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../../lib/testing/index.js';
import { Item, prng, randomRows, type ItemRow } from './items.js';

/** Seed of the random data and queries: printed by the tests, set it to reproduce a failure. */
export const SEED = Number(process.env.CROSS_SHARD_SEED ?? Date.now() % 2 ** 31);

/** A plain, comparable form of a row (Dates as ISO text). */
export const plain = (item: ItemRow) => ({
  id: item.id,
  score: item.score ?? null,
  label: item.label ?? null,
  amount: item.amount ?? null,
  price: item.price ?? null,
  createdAt: item.createdAt ? new Date(item.createdAt).toISOString() : null,
  grp: item.grp,
  rank: item.rank,
});

export interface Setup {
  topology: EmbeddedTopology;
  moduleRef: TestingModule;
  query: CrossShardQuery;
  reference: MikroORM;
  rows: ItemRow[];
  shardOf: Map<string, string>;
  logs: Map<string, string[]>;
}

/** A sharded topology and a one-database reference holding the same random rows. */
export async function setUp(shards: number, replicasPerShard: number, seed: number): Promise<Setup> {
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

/** One database's answer: the same filter and order, the primary key as final tie-breaker. */
export function referenceFind(
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

/** Closes what setUp opened. */
export async function tearDown(setup: Setup | undefined): Promise<void> {
  await setup?.reference.close(true);
  await setup?.moduleRef.close();
  await setup?.topology.stop();
}
