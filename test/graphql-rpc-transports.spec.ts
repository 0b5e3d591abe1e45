import { Controller, Injectable, type INestApplication, type INestMicroservice } from '@nestjs/common';
import { Args, Field, GraphQLModule, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { ClientProxyFactory, MessagePattern, Payload, Transport, type ClientProxy } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { firstValueFrom } from 'rxjs';
import request from 'supertest';
import {
  hashStrategy,
  ReadReplica,
  ShardBy,
  ShardedEntityManager,
  ShardingModule,
  ShardingSchema,
  ShardingService,
  type ContextMount,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { Account } from './support/entities.js';
import { freePort } from './support/free-port.js';
import { untilReplayed, withReplayPaused } from './support/replica-lag.js';
import { nodeByPort, whereAmI } from './support/where.js';

const TOKEN = 'x-shard-consistency';
const shardOf = (id: string) => hashStrategy().shardFor(id, ['s0', 's1']) as string;
const mounts: ContextMount[] = ['interceptor', 'middleware', 'guard'];

/** A number per EntityManager fork: equal numbers, one fork (one context on that node). */
const forkIds = new WeakMap<object, number>();
let forks = 0;
const forkId = (em: object) => forkIds.get(em) ?? (forkIds.set(em, ++forks), forks);

@ObjectType()
class Where {
  @Field(() => Int) port!: number;
  @Field() recovery!: boolean;
  @Field({ nullable: true }) found?: boolean;
  @Field({ nullable: true }) fork?: number;
}

@Injectable()
class AccountsService {
  constructor(private readonly em: ShardedEntityManager) {}

  @ShardBy('id')
  async create(id: string) {
    this.em.create(Account, { id, name: 'x' });
    await this.em.flush();
  }

  /** Where the read ran, whether it saw the account, and on which fork. */
  @ShardBy('id')
  @ReadReplica()
  async find(id: string): Promise<Where> {
    const found = (await this.em.findOne(Account, id)) !== null;
    return { ...(await whereAmI(this.em)), found, fork: forkId(this.em.getContext()) };
  }
}

@Resolver(() => Where)
class AccountsResolver {
  constructor(
    private readonly em: ShardedEntityManager,
    private readonly accounts: AccountsService,
  ) {}

  /** @ShardBy on the resolver method itself. */
  @Query(() => Where)
  @ShardBy('id')
  @ReadReplica()
  async where(@Args('id') id: string): Promise<Where> {
    void id;
    return { ...(await whereAmI(this.em)), fork: forkId(this.em.getContext()) };
  }

  /** A resolver calling a routed service. */
  @Query(() => Where)
  find(@Args('id') id: string): Promise<Where> {
    return this.accounts.find(id);
  }

  @Mutation(() => Where)
  async create(@Args('id') id: string): Promise<Where> {
    await this.accounts.create(id);
    return this.accounts.find(id); // read after write in one operation: the primary
  }
}

@Controller()
class AccountsMessages {
  constructor(
    private readonly accounts: AccountsService,
    private readonly sharding: ShardingService,
  ) {}

  /** Two routed calls apart in time: one context per message means one fork for both. */
  @MessagePattern('find-twice')
  async findTwice(@Payload() data: { id: string }) {
    const first = await this.accounts.find(data.id);
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { first, second: await this.accounts.find(data.id) };
  }

  @MessagePattern('find')
  find(@Payload() data: { id: string }) {
    return this.accounts.find(data.id);
  }

  /** Writes and answers with the context's consistency token, for the caller's next message. */
  @MessagePattern('create')
  async create(@Payload() data: { id: string }) {
    await this.accounts.create(data.id);
    return { token: this.sharding.consistencyToken() };
  }
}

describe('GraphQL and RPC transports', () => {
  let topology: EmbeddedTopology;
  let nodes: Map<number, string>;

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
    nodes = nodeByPort(topology);
  });

  afterAll(async () => {
    await topology?.stop();
  });

  const sharding = (mount: ContextMount) =>
    ShardingModule.forRoot({ shards: topology.shards, mikroOrm: { entities: [Account] }, context: { mount } });

  describe.each(mounts)('GraphQL (code first, Mercurius on Fastify), context mounted as %s', (mount) => {
    let app: INestApplication;
    const id = (name: string) => `gql-${mount}-${name}`;
    const gql = (query: string, token?: string) => {
      const call = request(app.getHttpServer()).post('/graphql').send({ query });
      return (token ? call.set(TOKEN, token) : call).expect(200);
    };

    beforeAll(async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          sharding(mount),
          GraphQLModule.forRoot<MercuriusDriverConfig>({ driver: MercuriusDriver, autoSchemaFile: true }),
        ],
        providers: [AccountsService, AccountsResolver],
      }).compile();
      app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter());
      await app.init();
      await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
      await app.get(ShardingSchema).refresh();
    });

    afterAll(async () => {
      await app?.close();
    });

    it('@ShardBy on resolvers and on the services they call: each field on its key’s shard', async () => {
      const candidates = Array.from({ length: 20 }, (_, i) => id(`k${i}`));
      // one key on each shard, in one operation
      const keys = ['s0', 's1'].map((shard) => candidates.find((key) => shardOf(key) === shard)!);
      const fields = keys.flatMap((key, i) => [
        `w${i}: where(id: "${key}") { port recovery }`,
        `f${i}: find(id: "${key}") { port found }`,
      ]);
      const { body } = await gql(`{ ${fields.join(' ')} }`);
      expect(body.errors).toBeUndefined();
      keys.forEach((key, i) => {
        expect(nodes.get(body.data[`w${i}`].port)).toBe(`${shardOf(key)}/replica-1`);
        expect(nodes.get(body.data[`f${i}`].port)).toBe(`${shardOf(key)}/replica-1`);
      });
    });

    it('one context per operation: fields on one shard share a fork, concurrent operations do not', async () => {
      const keys = Array.from({ length: 16 }, (_, i) => id(`c${i}`));
      const answers = await Promise.all(
        keys.map((key) => gql(`{ one: where(id: "${key}") { port fork } two: find(id: "${key}") { port fork } }`)),
      );
      answers.forEach(({ body }, i) => {
        expect(body.errors).toBeUndefined();
        expect(nodes.get(body.data.one.port)).toBe(`${shardOf(keys[i])}/replica-1`);
        expect(body.data.two.fork).toBe(body.data.one.fork);
      });
      expect(new Set(answers.map(({ body }) => body.data.one.fork)).size).toBe(keys.length);
    });

    it('the consistency token goes out in the response header and comes back in the request header', async () => {
      const key = id('token');
      const replica = topology.server(shardOf(key), 'replica');
      const token = await withReplayPaused(replica, async () => {
        const written = await gql(`mutation { create(id: "${key}") { port found } }`);
        expect(written.body.errors).toBeUndefined();
        expect(nodes.get(written.body.data.create.port)).toBe(`${shardOf(key)}/primary`);
        const token = written.headers[TOKEN] as string;
        expect(token).toMatch(/^c1\./);
        const stale = await gql(`{ find(id: "${key}") { port found } }`);
        expect(stale.body.data.find).toEqual({ port: replica.port, found: false });
        const fresh = await gql(`{ find(id: "${key}") { port found } }`, token);
        expect(nodes.get(fresh.body.data.find.port)).toBe(`${shardOf(key)}/primary`);
        expect(fresh.body.data.find.found).toBe(true);
        return token;
      });
      await untilReplayed(replica, key);
      const caughtUp = await gql(`{ find(id: "${key}") { port found } }`, token);
      expect(caughtUp.body.data.find).toEqual({ port: replica.port, found: true });
    });
  });

  describe.each(mounts)('microservice (TCP, @MessagePattern), context mounted as %s', (mount) => {
    let service: INestMicroservice;
    let client: ClientProxy;
    const id = (name: string) => `rpc-${mount}-${name}`;
    const send = <T>(pattern: string, data: object) => firstValueFrom(client.send<T>(pattern, data));

    beforeAll(async () => {
      const port = await freePort();
      const moduleRef = await Test.createTestingModule({
        imports: [sharding(mount)],
        controllers: [AccountsMessages],
        providers: [AccountsService],
      }).compile();
      service = moduleRef.createNestMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
      await service.listen();
      await service.get(ShardingSchema).refresh();
      client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
      await client.connect();
    });

    afterAll(async () => {
      await client?.close();
      await service?.close();
    });

    it('one context per message: concurrent messages on different shards never share a fork', async () => {
      const keys = Array.from({ length: 20 }, (_, i) => id(`c${i}`));
      const answers = await Promise.all(
        keys.map((key) => send<{ first: Where; second: Where }>('find-twice', { id: key })),
      );
      answers.forEach(({ first, second }, i) => {
        expect(nodes.get(first.port)).toBe(`${shardOf(keys[i])}/replica-1`);
        expect(nodes.get(second.port)).toBe(`${shardOf(keys[i])}/replica-1`);
        expect(second.fork).toBe(first.fork); // the two calls of one message: one context
      });
      expect(new Set(answers.map((a) => a.first.fork)).size).toBe(keys.length);
      expect(new Set(keys.map(shardOf)).size).toBe(2);
    });

    it('the consistency token travels in the payload field named like the header', async () => {
      const key = id('token');
      const replica = topology.server(shardOf(key), 'replica');
      const token = await withReplayPaused(replica, async () => {
        const { token } = await send<{ token?: string }>('create', { id: key });
        expect(token).toMatch(/^c1\./);
        expect(await send<Where>('find', { id: key })).toMatchObject({ port: replica.port, found: false });
        const fresh = await send<Where>('find', { id: key, [TOKEN]: token });
        expect(nodes.get(fresh.port)).toBe(`${shardOf(key)}/primary`);
        expect(fresh.found).toBe(true);
        return token!;
      });
      await untilReplayed(replica, key);
      expect(await send<Where>('find', { id: key, [TOKEN]: token })).toMatchObject({ port: replica.port, found: true });
    });
  });
});
