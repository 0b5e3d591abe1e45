import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  hashStrategy,
  NoShardContextError,
  ReadReplica,
  ShardBy,
  ShardedEntityManager,
  ShardingModule,
  ShardingService,
  type ShardStrategyOption,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { Account } from './support/entities.js';
import { nodeByPort, whereAmI } from './support/where.js';

/** Not routed itself: asks the server of the current routed call. */
@Injectable()
class Where {
  constructor(private readonly em: ShardedEntityManager) {}

  here() {
    return whereAmI(this.em);
  }
}

/** Routed methods, and no ShardedEntityManager or ShardingService among its fields: nothing to scan. */
@Injectable()
class Fieldless {
  constructor(private readonly where: Where) {}

  @ShardBy('id')
  async onPrimary(id: string) {
    void id;
    return this.where.here();
  }

  @ShardBy('id')
  @ReadReplica()
  async onReplica(id: string) {
    void id;
    return this.where.here();
  }
}

/** Calls a routed method while the application starts. */
@Injectable()
class Warmup implements OnModuleInit {
  port: number | undefined;

  constructor(private readonly fieldless: Fieldless) {}

  async onModuleInit() {
    this.port = (await this.fieldless.onPrimary('warm-up')).port;
  }
}

const B_STRATEGY: ShardStrategyOption = (key) => (String(key).length % 2 === 0 ? 'b0' : 'b1');
const hashed = (key: string) => hashStrategy({ buckets: 1024 }).shardFor(key, ['s0', 's1']) as string;

describe('each routed instance is bound to its own application', () => {
  let a: EmbeddedTopology;
  let b: EmbeddedTopology;
  const open: TestingModule[] = [];

  const compile = async (topology: EmbeddedTopology, strategy?: ShardStrategyOption) => {
    const moduleRef = await Test.createTestingModule({
      imports: [ShardingModule.forRoot({ shards: topology.shards, mikroOrm: { entities: [Account] }, strategy })],
      providers: [Where, Fieldless, Warmup],
    }).compile();
    open.push(moduleRef);
    return moduleRef;
  };
  const start = async (topology: EmbeddedTopology, strategy?: ShardStrategyOption) =>
    (await compile(topology, strategy)).init();

  beforeAll(async () => {
    a = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
    b = await startEmbeddedTopology({ shards: 2, replicasPerShard: 0, shardPrefix: 'b' });
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((m) => m.close()));
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('a class with no ShardedEntityManager field routes by its key, and onModuleInit may call it', async () => {
    const app = await start(a);
    const nodes = nodeByPort(a);
    for (const id of ['k-1', 'k-2', 'k-3', 'k-4', 'k-5', 'k-6']) {
      expect(nodes.get((await app.get(Fieldless).onPrimary(id)).port)).toBe(`${hashed(id)}/primary`);
      expect(nodes.get((await app.get(Fieldless).onReplica(id)).port)).toBe(`${hashed(id)}/replica-1`);
    }
    expect(nodes.get(app.get(Warmup).port!)).toBe(`${hashed('warm-up')}/primary`);
  });

  it('two applications on different topologies, called interleaved and concurrently, never cross', async () => {
    const [appA, appB] = await Promise.all([start(a), start(b, B_STRATEGY)]);
    const [nodesA, nodesB] = [nodeByPort(a), nodeByPort(b)];
    const calls = Array.from({ length: 600 }, async (_, i) => {
      const id = `x-${i}-${'y'.repeat(i % 3)}`;
      const inA = i % 2 === 0;
      const service = (inA ? appA : appB).get(Fieldless);
      const { port } = i % 4 < 2 ? await service.onPrimary(id) : await service.onReplica(id);
      const ran = (inA ? nodesA : nodesB).get(port) ?? `a server of the other application (${port})`;
      const shard = inA ? hashed(id) : (B_STRATEGY as (key: string) => string)(id);
      const ok = i % 4 < 2 || !inA ? ran === `${shard}/primary` : ran === `${shard}/replica-1`;
      return ok ? 'ok' : `${inA ? 'A' : 'B'} ${id} ran on ${ran}`;
    });
    const results = await Promise.all(calls);
    expect(results.filter((r) => r !== 'ok')).toEqual([]);
    expect(appA.get(Fieldless)).not.toBe(appB.get(Fieldless)); // one class, two instances, two modules
  });

  it('routes before the application starts (compile() without init()), in its own application only', async () => {
    const [compiledA, startedB] = await Promise.all([compile(a), start(b, B_STRATEGY)]);
    const { port } = await compiledA.get(Fieldless).onPrimary('early');
    expect(nodeByPort(a).get(port)).toBe(`${hashed('early')}/primary`);
    expect(nodeByPort(b).get((await startedB.get(Fieldless).onPrimary('early')).port)).toBe('b1/primary');
  });

  it('an instance no module provides routes inside a context only, and says how to fix it outside one', async () => {
    const app = await start(a);
    const stray = new Fieldless(app.get(Where));
    await expect(stray.onPrimary('k-1')).rejects.toThrow(NoShardContextError);
    await expect(stray.onPrimary('k-1')).rejects.toThrow(
      /^Fieldless\.onPrimary is a routed method, but this Fieldless instance belongs to no open application with a ShardingModule.*Let Nest provide Fieldless.*shardingService\.run/,
    );
    const sharding = app.get(ShardingService);
    const inside = await sharding.withContext(() => stray.onPrimary('k-1'));
    expect(nodeByPort(a).get(inside.port)).toBe(`${hashed('k-1')}/primary`);
  });

  it('a closed application lets go of its instances', async () => {
    const moduleRef = await compile(a);
    await moduleRef.init();
    const fieldless = moduleRef.get(Fieldless);
    await moduleRef.close();
    open.splice(open.indexOf(moduleRef), 1);
    await expect(fieldless.onPrimary('k-1')).rejects.toThrow(NoShardContextError);
  });
});
