import {
  Body,
  Controller,
  Get,
  Header,
  Injectable,
  Module,
  Param,
  Post,
  Req,
  SetMetadata,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type MiddlewareConsumer,
  type NestMiddleware,
  type NestModule,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  hashStrategy,
  ReadReplica,
  ShardBy,
  ShardedEntityManager,
  ShardingModule,
  ShardingSchema,
  type ContextMount,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { Account } from './support/entities.js';
import { nodeByPort, whereAmI } from './support/where.js';

const ROLE = 'test:role';
const TOKEN = 'x-shard-consistency';
const shardOf = (id: string) => hashStrategy().shardFor(id, ['s0', 's1']) as string;

@Injectable()
class RoleGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}
  canActivate(context: ExecutionContext): boolean {
    const wanted = this.reflector.get<string>(ROLE, context.getHandler());
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string> }>();
    return wanted !== undefined && request.headers['x-role'] === wanted;
  }
}

@Injectable()
class AccountsService {
  constructor(private readonly em: ShardedEntityManager) {}

  @ShardBy('id')
  async create(id: string, name = 'x') {
    this.em.create(Account, { id, name });
    await this.em.flush();
  }

  @ShardBy('id')
  @ReadReplica()
  async where(id: string) {
    void id;
    return whereAmI(this.em);
  }

  /** Where the read ran and whether it saw the account. */
  @ShardBy('id')
  @ReadReplica()
  async find(id: string) {
    return { ...(await whereAmI(this.em)), found: (await this.em.findOne(Account, id)) !== null };
  }

  /** The EntityManager fork this call works on: shared by every call of one context on one node. */
  @ShardBy('id')
  @ReadReplica()
  async fork(id: string): Promise<object> {
    void id;
    return this.em.getContext();
  }
}

/** A guard that loads with a routed call, as one loading the current user would. */
@Injectable()
class LoadingGuard implements CanActivate {
  constructor(private readonly accounts: AccountsService) {}
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ params: { id: string }; guardFork?: object }>();
    request.guardFork = await this.accounts.fork(request.params.id);
    return true;
  }
}

/**
 * A guard whose own method is routed, used only through `@UseGuards(Class)`: Nest makes it an enhancer of
 * the module, not a provider, and it must still know its application (under the interceptor mount no
 * context is open yet when it runs).
 */
@Injectable()
class SelfRoutedGuard implements CanActivate {
  constructor(private readonly em: ShardedEntityManager) {}

  @ShardBy((context: ExecutionContext) => context.switchToHttp().getRequest<{ params: { id: string } }>().params.id)
  @ReadReplica()
  async canActivate(context: ExecutionContext): Promise<boolean> {
    context.switchToHttp().getRequest<{ guardPort?: number }>().guardPort = (await whereAmI(this.em)).port;
    return true;
  }
}

/** A middleware mounted after the module's: it loads with a routed call too. */
@Injectable()
class LoadingMiddleware implements NestMiddleware {
  constructor(private readonly accounts: AccountsService) {}
  use(
    req: { url?: string; originalUrl?: string; middlewareFork?: object },
    _res: unknown,
    next: (e?: unknown) => void,
  ) {
    const key = /\/accounts\/([^/]+)\/loaded/.exec(req.originalUrl ?? req.url ?? '')?.[1] ?? '';
    this.accounts.fork(key).then((fork) => {
      req.middlewareFork = fork;
      next();
    }, next);
  }
}

@Module({ providers: [AccountsService, LoadingMiddleware] })
class LoadingMiddlewareModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(LoadingMiddleware).forRoutes('accounts/:id/loaded');
  }
}

@Controller('accounts')
class AccountsController {
  constructor(
    private readonly em: ShardedEntityManager,
    private readonly accounts: AccountsService,
  ) {}

  /** Routing decorators between Nest's own: every one of them must keep working. */
  @Get(':id/where')
  @SetMetadata(ROLE, 'reader')
  @ShardBy('id')
  @UseGuards(RoleGuard)
  @ReadReplica()
  @Header('x-decorated', 'yes')
  async where(@Param('id') id: string) {
    void id;
    return whereAmI(this.em);
  }

  @Get(':id/find')
  find(@Param('id') id: string) {
    return this.accounts.find(id);
  }

  /** Does the handler work on the fork the guard's routed call made? Only if the context opened before the guard. */
  @Get(':id/guarded')
  @UseGuards(LoadingGuard)
  async guarded(@Param('id') id: string, @Req() req: { guardFork?: object }) {
    if (!req.guardFork) throw new Error('the guard did not run');
    return { ...(await this.accounts.where(id)), sameFork: (await this.accounts.fork(id)) === req.guardFork };
  }

  @Get(':id/self-routed')
  @UseGuards(SelfRoutedGuard)
  selfRouted(@Req() req: { guardPort?: number }) {
    return { port: req.guardPort };
  }

  /** Does the handler work on the fork a middleware after the module's made? Only with the middleware mount. */
  @Post(':id/loaded')
  async loaded(@Param('id') id: string, @Req() req: { raw?: { middlewareFork?: object }; middlewareFork?: object }) {
    const fork = (req.raw ?? req).middlewareFork;
    if (!fork) throw new Error('the middleware did not run');
    return { ...(await this.accounts.where(id)), sameFork: (await this.accounts.fork(id)) === fork };
  }

  /** One request, two service calls: the read after the write must see it, so it runs on the primary. */
  @Post(':id')
  async writeThenRead(@Param('id') id: string, @Body() body: { name?: string }) {
    const before = await this.accounts.where(id);
    await this.accounts.create(id, body?.name);
    return { before, after: await this.accounts.where(id) };
  }
}

const platforms = ['express', 'fastify'] as const;
const mounts: ContextMount[] = ['interceptor', 'middleware', 'guard'];

describe('HTTP transports', () => {
  let topology: EmbeddedTopology;
  let nodes: Map<number, string>;

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
    nodes = nodeByPort(topology);
  });

  afterAll(async () => {
    await topology?.stop();
  });

  describe.each(platforms.flatMap((platform) => mounts.map((mount) => [platform, mount] as const)))(
    'on %s, context mounted as %s',
    (platform, mount) => {
      let app: INestApplication;
      const server = () => app.getHttpServer();
      const id = (name: string) => `${platform}-${mount}-${name}`;

      beforeAll(async () => {
        const moduleRef = await Test.createTestingModule({
          imports: [
            ShardingModule.forRoot({ shards: topology.shards, mikroOrm: { entities: [Account] }, context: { mount } }),
            LoadingMiddlewareModule,
          ],
          controllers: [AccountsController],
          providers: [AccountsService, RoleGuard, LoadingGuard],
        }).compile();
        app =
          platform === 'fastify'
            ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter())
            : moduleRef.createNestApplication();
        await app.init();
        if (platform === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
        await app.get(ShardingSchema).refresh();
      });

      afterAll(async () => {
        await app?.close();
      });

      it('a decorated controller route keeps its route, guard, metadata and header, and reads a replica', async () => {
        for (const key of ['a1', 'b2', 'c3', 'd4']) {
          const response = await request(server()).get(`/accounts/${key}/where`).set('x-role', 'reader').expect(200);
          expect(response.headers['x-decorated']).toBe('yes');
          expect(nodes.get(response.body.port)).toBe(`${shardOf(key)}/replica-1`);
          expect(response.body.recovery).toBe(true);
        }
        await request(server()).get('/accounts/a1/where').expect(403); // the guard still runs
      });

      it('in one request (with a JSON body), a read after a write goes to the primary', async () => {
        const key = id('written');
        const response = await request(server()).post(`/accounts/${key}`).send({ name: 'body' }).expect(201);
        expect(nodes.get(response.body.before.port)).toBe(`${shardOf(key)}/replica-1`);
        expect(nodes.get(response.body.after.port)).toBe(`${shardOf(key)}/primary`);
        // the next request starts afresh: replica again
        const next = await request(server()).get(`/accounts/${key}/where`).set('x-role', 'reader').expect(200);
        expect(nodes.get(next.body.port)).toBe(`${shardOf(key)}/replica-1`);
      });

      it(
        mount === 'interceptor'
          ? 'a guard’s routed call runs before the context opens: its own fork'
          : 'a guard’s routed call shares the request’s context: the handler joins its fork',
        async () => {
          for (const name of ['g1', 'g2', 'g3']) {
            const key = id(name);
            const response = await request(server()).get(`/accounts/${key}/guarded`).expect(200);
            expect(nodes.get(response.body.port)).toBe(`${shardOf(key)}/replica-1`);
            expect(response.body.sameFork).toBe(mount !== 'interceptor');
          }
        },
      );

      it('a guard known only from @UseGuards(Class) routes its own method by its key', async () => {
        for (const name of ['s1', 's2', 's3', 's4']) {
          const key = id(name);
          const response = await request(server()).get(`/accounts/${key}/self-routed`).expect(200);
          expect(nodes.get(response.body.port)).toBe(`${shardOf(key)}/replica-1`);
        }
      });

      it(
        mount === 'middleware'
          ? 'a middleware mounted after the module’s shares the request’s context (a POST with a JSON body)'
          : 'a middleware runs before the context opens: its own fork',
        async () => {
          for (const name of ['m1', 'm2', 'm3']) {
            const key = id(name);
            const response = await request(server()).post(`/accounts/${key}/loaded`).send({ a: 1 }).expect(201);
            expect(nodes.get(response.body.port)).toBe(`${shardOf(key)}/replica-1`);
            expect(response.body.sameFork).toBe(mount === 'middleware');
          }
        },
      );

      it('the response carries a consistency token with which the next request reads its own write', async () => {
        const key = id('token');
        const replica = topology.server(shardOf(key), 'replica');
        await replica.query('select pg_wal_replay_pause()');
        let token: string;
        try {
          const written = await request(server()).post(`/accounts/${key}`).send({}).expect(201);
          token = written.headers[TOKEN] as string;
          expect(token).toMatch(/^c1\./);
          const stale = await request(server()).get(`/accounts/${key}/find`).expect(200);
          expect(stale.body).toMatchObject({ recovery: true, found: false }); // the replica really lags
          expect(stale.headers[TOKEN]).toBeUndefined();
          const fresh = await request(server()).get(`/accounts/${key}/find`).set(TOKEN, token).expect(200);
          expect(nodes.get(fresh.body.port)).toBe(`${shardOf(key)}/primary`);
          expect(fresh.body.found).toBe(true);
          expect(fresh.headers[TOKEN]).toBe(token); // handed on
        } finally {
          await replica.query('select pg_wal_replay_resume()');
        }
        // once the replica has replayed the write, the same token reads it there
        for (let tries = 0; ; tries++) {
          const [row] = await replica.query<{ n: string }>(`select count(*) as n from accounts where id = '${key}'`);
          if (row.n === '1') break;
          if (tries > 200) throw new Error('the replica did not replay the write');
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        const caughtUp = await request(server()).get(`/accounts/${key}/find`).set(TOKEN, token).expect(200);
        expect(nodes.get(caughtUp.body.port)).toBe(`${shardOf(key)}/replica-1`);
        expect(caughtUp.body.found).toBe(true);
      });

      it('concurrent requests to different shards never see each other’s context', async () => {
        const keys = Array.from({ length: 120 }, (_, i) => id(`c${i}`));
        const responses = await Promise.all(
          keys.map((key, i) =>
            i % 2
              ? request(server()).get(`/accounts/${key}/where`).set('x-role', 'reader')
              : request(server()).get(`/accounts/${key}/guarded`),
          ),
        );
        const wrong = responses.filter((r, i) => nodes.get(r.body.port) !== `${shardOf(keys[i])}/replica-1`);
        expect(wrong).toEqual([]);
        const guarded = responses.filter((_, i) => i % 2 === 0);
        expect(guarded.map((r) => r.body.sameFork)).toEqual(guarded.map(() => mount !== 'interceptor'));
      });
    },
  );
});
