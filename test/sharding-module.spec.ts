import { Inject, Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  NodeRegistry,
  SHARDING_MODULE_OPTIONS,
  ShardingConfigError,
  ShardingModule,
  ShardingSchema,
  UnknownNodeError,
  type ResolvedShardingOptions,
  type ShardingModuleOptions,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { Note } from './support/entities.js';
import { eventually } from './support/pids.js';

const CONFIG = Symbol('CONFIG');

describe('ShardingModule on a real 2×1 topology', () => {
  let topology: EmbeddedTopology;
  let options: ShardingModuleOptions;
  const open: TestingModule[] = [];

  const compile = async (imports: unknown[]): Promise<TestingModule> => {
    const moduleRef = await Test.createTestingModule({ imports: imports as never[] }).compile();
    open.push(moduleRef);
    return moduleRef;
  };

  /** Asks every node, through its own MikroORM, which server it is. */
  const serverPorts = async (registry: NodeRegistry) =>
    Promise.all(
      registry.nodes.map(async (node) => {
        const [row] = await node.fork().execute<{ port: number }[]>('select inet_server_port() as port');
        return [node.id, row.port];
      }),
    );

  const expectedPorts = () =>
    topology.servers.map((s) => [s.role === 'primary' ? `${s.shard}/primary` : `${s.shard}/replica-1`, s.port]);

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
    options = { shards: topology.shards, mikroOrm: { entities: [Note] } };
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((m) => m.close()));
  });

  afterAll(() => topology?.stop());

  it('forRoot: one MikroORM per node, each talking to its own server', async () => {
    const registry = (await compile([ShardingModule.forRoot(options)])).get(NodeRegistry);
    expect(registry.shardNames).toEqual(['s0', 's1']);
    expect(registry.nodes.map((n) => n.id)).toEqual(['s0/primary', 's0/replica-1', 's1/primary', 's1/replica-1']);
    expect(new Set(registry.nodes.map((n) => n.orm)).size).toBe(4);
    expect((await serverPorts(registry)).sort()).toEqual(expectedPorts().sort());
  });

  it('discovers entity metadata once: every node shares the same EntityMetadata object', async () => {
    const registry = (await compile([ShardingModule.forRoot(options)])).get(NodeRegistry);
    const metas = registry.nodes.map((n) => n.orm.getMetadata().get(Note));
    expect(metas[0].tableName).toBe('notes');
    for (const meta of metas) expect(meta).toBe(metas[0]);
  });

  describe('forRootAsync', () => {
    @Module({ providers: [{ provide: CONFIG, useFactory: () => options }], exports: [CONFIG] })
    class ConfigModule {}

    @Injectable()
    class OptionsFactory {
      constructor(@Inject(CONFIG) private readonly config: ShardingModuleOptions) {}
      createShardingOptions(): ShardingModuleOptions {
        return this.config;
      }
    }

    @Module({ imports: [ConfigModule], providers: [OptionsFactory], exports: [OptionsFactory] })
    class FactoryModule {}

    it.each([
      [
        'useFactory with imports and inject',
        () =>
          ShardingModule.forRootAsync({
            imports: [ConfigModule],
            inject: [CONFIG],
            useFactory: async (c: ShardingModuleOptions) => c,
          }),
      ],
      ['useClass', () => ShardingModule.forRootAsync({ imports: [ConfigModule], useClass: OptionsFactory })],
      ['useExisting', () => ShardingModule.forRootAsync({ imports: [FactoryModule], useExisting: OptionsFactory })],
    ])('%s', async (_name, register) => {
      const registry = (await compile([register()])).get(NodeRegistry);
      expect((await serverPorts(registry)).sort()).toEqual(expectedPorts().sort());
    });
  });

  it('is global by default, and isGlobal: false keeps it to the importing module', async () => {
    @Injectable()
    class Consumer {
      constructor(readonly registry: NodeRegistry) {}
    }
    @Module({ providers: [Consumer], exports: [Consumer] })
    class FeatureModule {}

    const global = await compile([ShardingModule.forRoot(options), FeatureModule]);
    expect(global.get(Consumer).registry).toBe(global.get(NodeRegistry));

    await expect(compile([ShardingModule.forRoot({ ...options, isGlobal: false }), FeatureModule])).rejects.toThrow(
      /can't resolve dependencies of the Consumer/i,
    );
  });

  it('SHARDING_MODULE_OPTIONS gives the options with every default applied, forRoot and forRootAsync alike', async () => {
    const given: ShardingModuleOptions = {
      ...options,
      shardKeys: { Note: 'id' },
      readReplicas: { consistencyHeader: 'X-Token' },
      lockRequestToOneShard: true,
    };
    for (const register of [
      () => ShardingModule.forRoot(given),
      () => ShardingModule.forRootAsync({ useFactory: () => given }),
    ]) {
      const resolved = (await compile([register()])).get<ResolvedShardingOptions>(SHARDING_MODULE_OPTIONS);
      expect(resolved).toMatchObject({
        shards: topology.shards,
        lockShard: true,
        readReplicas: { balancer: 'round-robin', readYourWrites: true, consistencyHeader: 'x-token' },
        health: { intervalMs: 1_000, timeoutMs: 2_000, enabled: true },
        crossShard: { concurrency: 8, maxRows: 10_000, shardKeys: { Note: 'id' } },
        ids: { workerId: 0 },
      });
      expect(resolved.strategy).toMatchObject({ name: 'hash(1024 buckets)' });
      expect(resolved).not.toHaveProperty('lockRequestToOneShard');
    }
  });

  it('NodeRegistry finds nodes by shard and role, and names what is missing', async () => {
    const registry = (await compile([ShardingModule.forRoot(options)])).get(NodeRegistry);
    expect(registry.node('s1', 'replica', 0).id).toBe('s1/replica-1');
    expect(registry.configured('s0').replicas.map((r) => r.id)).toEqual(['s0/replica-1']);
    expect(registry.node('s0').address).toBe(`postgresql://postgres@127.0.0.1:${topology.server('s0').port}/app`);
    expect(() => registry.configured('s9')).toThrow(UnknownNodeError);
    expect(() => registry.configured('s9')).toThrow('Shard "s9" is not configured. Known shards: s0, s1.');
    expect(() => registry.node('s0', 'replica', 3)).toThrow(/has 1 replica\(s\); there is no replica 3/);
  });

  it('probe() reports every node: port, recovery, streaming', async () => {
    const registry = (await compile([ShardingModule.forRoot(options)])).get(NodeRegistry);
    const probes = await registry.probe();
    expect(probes.map((p) => [p.id, p.reachable, p.serverPort, p.inRecovery, p.streaming])).toEqual(
      topology.servers.map((s) => [
        s.role === 'primary' ? `${s.shard}/primary` : `${s.shard}/replica-1`,
        true,
        s.port,
        s.role === 'replica',
        s.role === 'replica',
      ]),
    );
  });

  it('ShardingSchema.update() creates the tables on every primary; replicas have them by replication', async () => {
    const moduleRef = await compile([ShardingModule.forRoot(options)]);
    await moduleRef.get(ShardingSchema).update();
    for (const server of topology.servers) {
      const [row] = await server.query<{ t: string | null }>("select to_regclass('notes')::text as t");
      expect([server.name, row.t]).toEqual([server.name, 'notes']);
    }
    const registry = moduleRef.get(NodeRegistry);
    const em = registry.fork('s1');
    em.create(Note, { body: 'only on s1' });
    await em.flush();
    expect(await topology.server('s0').query('select body from notes')).toEqual([]);
    expect(await topology.server('s1').query('select body from notes')).toEqual([{ body: 'only on s1' }]);
  });

  it('closes every pool on application shutdown', async () => {
    const moduleRef = await compile([ShardingModule.forRoot(options)]);
    const registry = moduleRef.get(NodeRegistry);
    await serverPorts(registry); // opens a connection on every node
    const clientsOn = async () =>
      Promise.all(
        topology.servers.map(async (s) => {
          const [row] = await s.query<{ n: number }>(
            "select count(*)::int as n from pg_stat_activity where datname = 'app' and backend_type = 'client backend' and pid <> pg_backend_pid()",
          );
          return row.n;
        }),
      );
    expect((await clientsOn()).every((n) => n > 0)).toBe(true);
    await moduleRef.close();
    open.splice(open.indexOf(moduleRef), 1);
    expect(await eventually(async () => (await clientsOn()).every((n) => n === 0))).toBe(true);
    for (const node of registry.nodes) expect(await node.orm.isConnected()).toBe(false);
  });

  it('never writes a password into logs, errors or probes', async () => {
    const password = topology.server('s0').connection.password!;
    const logs: string[] = [];
    const broken: ShardingModuleOptions = {
      shards: {
        ...topology.shards,
        s2: { primary: { host: '127.0.0.1', port: 1, user: 'postgres', password, dbName: 'app' } },
      },
      mikroOrm: { entities: [Note], debug: true, logger: (line: string) => logs.push(line) },
    };
    const registry = (await compile([ShardingModule.forRoot(broken)])).get(NodeRegistry);
    await serverPorts({ nodes: registry.nodes.filter((n) => n.shard !== 's2') } as NodeRegistry);
    const error = await registry
      .fork('s2')
      .execute('select 1')
      .catch((e: Error) => e);
    const probes = await registry.probe({ timeoutMs: 1_000 });
    expect(probes.find((p) => p.id === 's2/primary')).toMatchObject({ reachable: false });
    expect(logs.length).toBeGreaterThan(0);
    const everything = [...logs, String(error), (error as Error).stack, JSON.stringify(probes)].join('\n');
    expect(everything).not.toContain(password);
  });
});

describe('ShardingModule configuration errors', () => {
  it('refuses an id layout that snowflakeStrategy would decode differently', async () => {
    const { snowflakeStrategy } = await import('../lib/index.js');
    const compiling = Test.createTestingModule({
      imports: [
        ShardingModule.forRoot({
          shards: { s0: { primary: { clientUrl: 'postgresql://app@db0:5432/app' } } },
          mikroOrm: { entities: [Note] },
          strategy: snowflakeStrategy(),
          ids: { layout: { workerBits: 3 } },
        }),
      ],
    }).compile();
    await expect(compiling).rejects.toThrow(/ids.layout and snowflakeStrategy\(\) disagree on workerBits/);
  });

  it('reports every problem in one ShardingConfigError, before any connection', async () => {
    const compiling = Test.createTestingModule({
      imports: [
        ShardingModule.forRoot({
          shards: {
            s0: {
              primary: { clientUrl: 'postgresql://app:hunter2@db0:5432/app' },
              replicas: [{ clientUrl: 'postgresql://app:hunter2@db0:5432/app' }],
            },
            '': { primary: { host: 'db1', port: 99999, dbName: 'app' } },
          },
          mikroOrm: { entities: [Note], dbName: 'app' } as never,
        }),
      ],
    }).compile();
    const error = await compiling.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShardingConfigError);
    expect((error as ShardingConfigError).problems).toEqual([
      'shards.s0.replicas[0] and shards.s0.primary are the same node (postgresql://app@db0:5432/app): every node must be a distinct server or database',
      'a shard has an empty name: give every shard a non-blank name like "s0"',
      'shards..primary.port must be an integer from 1 to 65535',
      'mikroOrm.dbName is a per-node setting: put connection details in shards.<name>.primary / replicas instead',
    ]);
    expect((error as Error).message).not.toContain('hunter2');
  });
});
