import { EntityManager as CoreEntityManager } from '@mikro-orm/core';
import { getRepositoryToken, InjectRepository } from '@mikro-orm/nestjs';
import { EntityManager, EntityRepository, SqlEntityManager } from '@mikro-orm/postgresql';
import { Inject, Injectable, Module } from '@nestjs/common';
import { MetadataScanner } from '@nestjs/core';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  hashStrategy,
  NoShardContextError,
  ReadOnlyContextError,
  ReadReplica,
  ShardBy,
  ShardedEntityManager,
  ShardingConfigError,
  ShardingModule,
  ShardingSchema,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { Order, User, UserRepository } from './drop-in/entities.js';
import { Account } from './support/entities.js';
import { CreateRequestContext, EnsureRequestContext, Transactional } from '@mikro-orm/decorators/legacy';
import { nodeByPort, whereAmI } from './support/where.js';

const shardOf = (key: string) => hashStrategy().shardFor(key, ['s0', 's1']) as string;
/** One key on each shard. */
const KEYS = (() => {
  const found = new Map<string, string>();
  for (let i = 0; found.size < 2; i++) if (!found.has(shardOf(`k${i}`))) found.set(shardOf(`k${i}`), `k${i}`);
  return [...found.values()];
})();

/** Injects repositories only (no EntityManager, no ShardingService): they are how it finds its module. */
@Injectable()
class UsersByRepository {
  constructor(
    @InjectRepository(User) readonly byToken: EntityRepository<User>,
    readonly users: UserRepository,
    @Inject(getRepositoryToken(Order)) readonly orders: EntityRepository<Order>,
  ) {}

  @ShardBy('id')
  async onPrimary(id: string) {
    void id;
    return {
      custom: await whereAmI(this.users.getEntityManager()),
      orders: await whereAmI(this.orders.getEntityManager()),
    };
  }

  @ShardBy('id')
  @ReadReplica()
  async onReplica(id: string) {
    void id;
    return {
      custom: await whereAmI(this.users.getEntityManager()),
      byToken: await whereAmI(this.byToken.getEntityManager()),
    };
  }

  @ShardBy('id')
  @ReadReplica()
  async insertOnReplica(id: string) {
    await this.users.insert({ id, email: 'e', name: 'n' });
  }

  @ShardBy('id')
  @ReadReplica()
  async createAndFlushOnReplica(id: string) {
    this.users.create({ id, email: 'e', name: 'n' });
    await this.users.getEntityManager().flush();
  }

  @ShardBy('id')
  @ReadReplica()
  async queryBuilderInsertOnReplica(id: string) {
    await this.users.createQueryBuilder().insert({ id, email: 'e', name: 'n' }).execute();
  }
}

/** MikroORM's method decorators under the routing ones, on a class that injects MikroORM's EntityManager. */
@Injectable()
class Payments {
  constructor(
    readonly em: EntityManager,
    readonly users: UserRepository,
  ) {}

  @ShardBy('userId')
  @Transactional()
  async register(userId: string, whileOpen?: (inside: Inside) => Promise<void>) {
    this.users.create({ id: userId, email: `${userId}@x`, name: 'n' });
    await this.em.flush();
    const [inside] = await this.em.execute<Inside[]>(
      'select inet_server_port() as port, txid_current_if_assigned()::text as txid, pg_backend_pid() as pid',
    );
    await whileOpen?.(inside);
    return { inside, nested: await this.readBack(userId) };
  }

  @ShardBy('id')
  @ReadReplica()
  async readBack(id: string) {
    return { port: (await whereAmI(this.em)).port, found: (await this.users.findOne(id))?.id ?? null };
  }

  @ShardBy('userId')
  @Transactional()
  async failing(userId: string) {
    this.users.create({ id: userId, email: `${userId}@x`, name: 'n' });
    await this.em.flush();
    throw new Error('failed after the flush');
  }

  @ShardBy('userId')
  @Transactional({ context: (self: Payments) => self.users })
  async throughRepository(userId: string) {
    void userId;
    return (
      await this.em.execute<{ port: number; txid: string | null }[]>(
        'select inet_server_port() as port, txid_current()::text as txid',
      )
    )[0];
  }

  @ShardBy('userId')
  @ReadReplica()
  @Transactional()
  async readOnlyTransaction(userId: string) {
    return userId;
  }

  @ShardBy('userId')
  @CreateRequestContext()
  async created(userId: string) {
    void userId;
    return whereAmI(this.em);
  }

  @ShardBy('userId')
  @ReadReplica()
  @EnsureRequestContext()
  async ensured(userId: string) {
    void userId;
    return whereAmI(this.em);
  }

  @CreateRequestContext()
  async unrouted() {
    return whereAmI(this.em);
  }
}

interface Inside {
  port: number;
  txid: string | null;
  pid: number;
}

@Module({
  imports: [ShardingModule.forFeature([User, Order])],
  providers: [UsersByRepository, Payments],
})
class FeatureModule {}

describe('code written for @mikro-orm/nestjs, routed', () => {
  let topology: EmbeddedTopology;
  let moduleRef: TestingModule;
  let nodes: Map<number, string>;

  const holders = async (id: string) => {
    const found: string[] = [];
    for (const server of topology.servers) {
      if ((await server.query('select 1 from drop_in_users where id = $1', [id])).length) found.push(server.name);
    }
    return found;
  };

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
    nodes = nodeByPort(topology);
    moduleRef = await Test.createTestingModule({
      imports: [
        ShardingModule.forRoot({ shards: topology.shards, mikroOrm: { entities: [User, Order] } }),
        FeatureModule,
      ],
    }).compile();
    await moduleRef.init();
    await moduleRef.get(ShardingSchema).refresh();
  });

  afterAll(async () => {
    await moduleRef?.close();
    await topology?.stop();
  });

  describe('repositories (ShardingModule.forFeature in a feature module)', () => {
    it('by InjectRepository, getRepositoryToken and the custom class, each acts on the routed node', async () => {
      const service = moduleRef.get(UsersByRepository);
      expect(service.users).toBeInstanceOf(UserRepository);
      expect(service.byToken).toBe(service.users); // the custom class and the token: one provider
      for (const key of KEYS) {
        const primary = await service.onPrimary(key);
        expect(nodes.get(primary.custom.port)).toBe(`${shardOf(key)}/primary`);
        expect(nodes.get(primary.orders.port)).toBe(`${shardOf(key)}/primary`);
        const replica = await service.onReplica(key);
        expect(nodes.get(replica.custom.port)).toBe(`${shardOf(key)}/replica-1`);
        expect(nodes.get(replica.byToken.port)).toBe(`${shardOf(key)}/replica-1`);
      }
    });

    it('a write through a repository inside @ReadReplica() is refused, and nothing reaches a server', async () => {
      const service = moduleRef.get(UsersByRepository);
      for (const write of ['insertOnReplica', 'createAndFlushOnReplica', 'queryBuilderInsertOnReplica'] as const) {
        const id = `${KEYS[0]}-${write}`;
        await expect(service[write](id)).rejects.toThrow(ReadOnlyContextError);
        await expect(service[write](id)).rejects.toThrow(/UsersByRepository\.\w+OnReplica/);
        expect(await holders(id)).toEqual([]);
      }
    });

    it('an entity the ORM does not know: the error names forFeature and the fix', async () => {
      const error = await Test.createTestingModule({
        imports: [
          ShardingModule.forRoot({ shards: topology.shards, mikroOrm: { entities: [User, Order] } }),
          ShardingModule.forFeature([Account]),
        ],
      })
        .compile()
        .catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(ShardingConfigError);
      expect((error as Error).message).toMatch(
        /ShardingModule\.forFeature\(\[Account\]\): Account is not an entity .*mikroOrm\.entities/,
      );
    });
  });

  describe("MikroORM's EntityManager classes", () => {
    it('are injectable, each the ShardedEntityManager, and it is instanceof every one of them', () => {
      const sharded = moduleRef.get(ShardedEntityManager);
      for (const token of [CoreEntityManager, SqlEntityManager, EntityManager]) {
        expect(moduleRef.get(token)).toBe(sharded);
        expect(sharded).toBeInstanceOf(token);
      }
      expect(sharded).toBeInstanceOf(ShardedEntityManager);
    });

    it('outside a routed call, reading a method is harmless (scanners do); calling it throws NoShardContextError', () => {
      const em = moduleRef.get(EntityManager);
      const find = em.find;
      expect(typeof find).toBe('function');
      expect(Reflect.getMetadata('any', find)).toBeUndefined();
      expect(() => find(User, {})).toThrow(NoShardContextError);
      expect(() => em.id).toThrow(NoShardContextError); // a getter
      // what @nestjs/schedule and @nestjs/event-emitter do with every provider at start
      const names = new MetadataScanner().getAllMethodNames(Object.getPrototypeOf(em));
      expect(names).toEqual(expect.arrayContaining(['find', 'flush', 'transactional']));
      for (const name of names) expect(() => (em as unknown as Record<string, unknown>)[name]).not.toThrow();
    });
  });

  describe("MikroORM's @Transactional(), @CreateRequestContext(), @EnsureRequestContext() under @ShardBy", () => {
    it("@Transactional() opens the transaction on the key shard's primary; nested routed reads join it", async () => {
      const payments = moduleRef.get(Payments);
      for (const key of KEYS) {
        const id = `${key}-tx`;
        let activity: { state: string; port: number } | undefined;
        const result = await payments.register(id, async (inside) => {
          // from outside, on that server: our connection holds an open transaction
          const server = topology.servers.find((s) => s.port === inside.port)!;
          const [row] = await server.query<{ state: string }>('select state from pg_stat_activity where pid = $1', [
            inside.pid,
          ]);
          activity = { state: row.state, port: server.port };
          expect(await holders(id)).toEqual([]); // not committed yet: no server shows the row
        });
        expect(nodes.get(result.inside.port)).toBe(`${shardOf(id)}/primary`);
        expect(result.inside.txid).not.toBeNull(); // the insert was written inside a transaction
        expect(activity).toEqual({ state: 'idle in transaction', port: result.inside.port });
        // the @ReadReplica() call inside the transaction joined it: primary, sees the uncommitted row
        expect(result.nested).toEqual({ port: result.inside.port, found: id });
        expect(await holders(id)).toContain(`${shardOf(id)}-primary`);
      }
    });

    it('a throw rolls the transaction back on that shard', async () => {
      const payments = moduleRef.get(Payments);
      for (const key of KEYS) {
        const id = `${key}-rolled-back`;
        await expect(payments.failing(id)).rejects.toThrow('failed after the flush');
        expect(await holders(id)).toEqual([]);
      }
    });

    it('@Transactional({ context: self => self.repository }) finds the routed EntityManager through the repository', async () => {
      const payments = moduleRef.get(Payments);
      for (const key of KEYS) {
        const inside = await payments.throughRepository(key);
        expect(nodes.get(inside.port)).toBe(`${shardOf(key)}/primary`);
        expect(inside.txid).not.toBeNull();
      }
    });

    it('@Transactional() inside @ReadReplica() is refused before anything is sent', async () => {
      await expect(moduleRef.get(Payments).readOnlyTransaction(KEYS[0])).rejects.toThrow(ReadOnlyContextError);
      await expect(moduleRef.get(Payments).readOnlyTransaction(KEYS[0])).rejects.toThrow(
        /Payments\.readOnlyTransaction called em\.transactional\(\)/,
      );
    });

    it('@CreateRequestContext() and @EnsureRequestContext() run on the routed node', async () => {
      const payments = moduleRef.get(Payments);
      for (const key of KEYS) {
        expect(nodes.get((await payments.created(key)).port)).toBe(`${shardOf(key)}/primary`);
        expect(nodes.get((await payments.ensured(key)).port)).toBe(`${shardOf(key)}/replica-1`);
      }
    });

    it('on a method without routing, the error says to put the routing decorator above', async () => {
      await expect(moduleRef.get(Payments).unrouted()).rejects.toThrow(NoShardContextError);
      await expect(moduleRef.get(Payments).unrouted()).rejects.toThrow(/write the routing decorator above it/);
    });

    it('written the other way round (@Transactional() above @ShardBy), the class is refused when defined', () => {
      expect(() => {
        class Reversed {
          @Transactional()
          @ShardBy('id')
          async save(id: string) {
            return id;
          }
        }
        return Reversed;
      }).toThrow(/should be use with async functions/);
    });
  });
});
