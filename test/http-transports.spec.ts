import {
  Controller,
  Get,
  Header,
  Injectable,
  Param,
  Post,
  SetMetadata,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
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
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { Account } from './support/entities.js';
import { nodeByPort, whereAmI } from './support/where.js';

const ROLE = 'test:role';
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
  async create(id: string) {
    this.em.create(Account, { id, name: 'x' });
    await this.em.flush();
  }

  @ShardBy('id')
  @ReadReplica()
  async where(id: string) {
    void id;
    return whereAmI(this.em);
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

  /** One request, two service calls: the read after the write must see it, so it runs on the primary. */
  @Post(':id')
  async writeThenRead(@Param('id') id: string) {
    const before = await this.accounts.where(id);
    await this.accounts.create(id);
    return { before, after: await this.accounts.where(id) };
  }
}

describe.each(['express', 'fastify'] as const)('HTTP routing on %s', (platform) => {
  let topology: EmbeddedTopology;
  let app: INestApplication;
  let nodes: Map<number, string>;

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
    nodes = nodeByPort(topology);
    const moduleRef = await Test.createTestingModule({
      imports: [ShardingModule.forRoot({ shards: topology.shards, mikroOrm: { entities: [Account] } })],
      controllers: [AccountsController],
      providers: [AccountsService, RoleGuard],
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
    await topology?.stop();
  });

  it('a decorated controller route keeps its route, guard, metadata and header, and reads a replica', async () => {
    for (const id of ['a1', 'b2', 'c3', 'd4']) {
      const response = await request(app.getHttpServer())
        .get(`/accounts/${id}/where`)
        .set('x-role', 'reader')
        .expect(200);
      expect(response.headers['x-decorated']).toBe('yes');
      expect(nodes.get(response.body.port)).toBe(`${shardOf(id)}/replica-1`);
      expect(response.body.recovery).toBe(true);
    }
    await request(app.getHttpServer()).get('/accounts/a1/where').expect(403); // the guard still runs
  });

  it('in one request, a read after a write goes to the primary', async () => {
    const id = `${platform}-written`;
    const response = await request(app.getHttpServer()).post(`/accounts/${id}`).expect(201);
    expect(nodes.get(response.body.before.port)).toBe(`${shardOf(id)}/replica-1`);
    expect(nodes.get(response.body.after.port)).toBe(`${shardOf(id)}/primary`);
    // the next request starts afresh: replica again
    const next = await request(app.getHttpServer()).get(`/accounts/${id}/where`).set('x-role', 'reader').expect(200);
    expect(nodes.get(next.body.port)).toBe(`${shardOf(id)}/replica-1`);
  });

  it('concurrent requests to different shards never see each other’s EntityManager', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `${platform}-c${i}`);
    const responses = await Promise.all(
      ids.map((id) => request(app.getHttpServer()).get(`/accounts/${id}/where`).set('x-role', 'reader')),
    );
    const wrong = responses.filter((r, i) => nodes.get(r.body.port) !== `${shardOf(ids[i])}/replica-1`);
    expect(wrong).toEqual([]);
  });
});
