import {
  Controller,
  Get,
  Injectable,
  Module,
  Param,
  type CallHandler,
  type ExecutionContext,
  type INestApplication,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { defineEntity, MikroORM, p } from '@mikro-orm/postgresql';
import http from 'node:http';
import { loadavg } from 'node:os';
import pg from 'pg';
import {
  NodeRegistry,
  ReadReplica,
  ShardBy,
  ShardedEntityManager,
  ShardingModule,
  ShardingSchema,
  ShardingService,
  waitForReplicas,
  type ContextMount,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { runSuiteInChild } from './child-suite.js';
import { mean, median } from './stats.js';

const BenchAccountSchema = defineEntity({
  name: 'BenchAccount',
  tableName: 'bench_accounts',
  properties: { id: p.string().primary(), name: p.string(), balance: p.integer() },
});
class BenchAccount extends BenchAccountSchema.class {}
BenchAccountSchema.setClass(BenchAccount);

@Injectable()
class AccountsService {
  constructor(private readonly em: ShardedEntityManager) {}

  @ShardBy('id')
  @ReadReplica()
  async findOne(id: string) {
    return this.em.findOne(BenchAccount, id);
  }
}

/** The same service method without routing: what a user of plain MikroORM would write. */
class PlainAccountsService {
  constructor(private readonly orm: MikroORM) {}

  async findOne(id: string) {
    return this.orm.em.fork().findOne(BenchAccount, id);
  }
}

@Controller('accounts')
class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Get(':id')
  findOne(@Param('id') id: string) {
    return this.accounts.findOne(id);
  }
}

/** Passes every request through Nest's interceptor pipeline and does nothing else: its cost alone. */
@Injectable()
class NoOpInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

/** Where the request context opens (`none`: each routed call opens its own); `noop`: none + a no-op interceptor. */
type HttpVariant = ContextMount | 'noop';
const HTTP_VARIANTS: readonly HttpVariant[] = ['none', 'middleware', 'interceptor', 'guard', 'noop'];
/** The variants measured, `none` always included (HTTP_BENCH_VARIANTS=middleware,guard for a quick look). */
const httpVariants = (): HttpVariant[] => {
  const asked = process.env.HTTP_BENCH_VARIANTS?.split(',') as HttpVariant[] | undefined;
  return asked ? HTTP_VARIANTS.filter((v) => v === 'none' || asked.includes(v)) : [...HTTP_VARIANTS];
};
const HTTP_LABELS: Record<HttpVariant, string> = {
  none: "no request context (`context: { mount: 'none' }` = `interceptor: false`: each call opens its own)",
  middleware: "mount 'middleware' (ShardingMiddleware + ShardingContextGuard for RPC)",
  interceptor: "mount 'interceptor' (default: ShardingInterceptor)",
  guard: "mount 'guard' (ShardingContextGuard)",
  noop: "no request context, a no-op interceptor (Nest's interceptor pipeline alone)",
};

const createApp = async (topology: EmbeddedTopology, variant: HttpVariant) => {
  @Module({
    imports: [
      ShardingModule.forRoot({
        shards: topology.shards,
        mikroOrm: { entities: [BenchAccount] },
        context: { mount: variant === 'noop' ? 'none' : variant },
      }),
    ],
    controllers: [AccountsController],
    providers: [
      AccountsService,
      ...(variant === 'noop' ? [{ provide: APP_INTERCEPTOR, useClass: NoOpInterceptor }] : []),
    ],
  })
  class BenchModule {}
  const app = await NestFactory.create(BenchModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  return app;
};

const ROWS = 2_000;
const CALLS = 4_000;
// Calls per variant before measuring: MikroORM's code runs in five variants, ours in one; enough calls
// for V8 to optimise ours too (with 300, the routing functions were still measured half-optimised).
const WARMUP = 3_000;
const RUNS = Number(process.env.ROUTING_BENCH_RUNS ?? 5);
const ROUTED = 'routed: service method with @ShardBy + @ReadReplica, this.em = ShardedEntityManager';
const PLAIN = 'plain MikroORM: orm.em.fork().findOne (its own MikroORM.init, on the same connection)';

/** One measurement process's result: per variant, the median wall and mean CPU µs of its calls. */
type CallsRun = Record<string, { wall: number; cpu: number }>;

/** Starts a topology with 2000 rows per shard and the module on it (interceptor on or off). */
async function seededTopology(): Promise<{ topology: EmbeddedTopology; routedIds: string[] }> {
  const topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
  const app = await createApp(topology, 'interceptor');
  try {
    await app.get(ShardingSchema).refresh();
    const registry = app.get(NodeRegistry);
    const ids = Array.from({ length: ROWS }, (_, i) => `acct-${i}`);
    for (const shard of registry.shardNames) {
      const em = registry.fork(shard);
      for (const id of ids) em.create(BenchAccount, { id, name: `Account ${id}`, balance: 100 });
      await em.flush(); // every id on both primaries: the routed call's shard always has it
    }
    await waitForReplicas(registry);
    const sharding = app.get(ShardingService);
    const routedIds: string[] = []; // ids the strategy sends to s0: its only replica serves the routed reads
    for (const id of ids) if ((await sharding.shardFor(id)) === 's0') routedIds.push(id);
    return { topology, routedIds };
  } catch (error) {
    await topology.stop();
    throw error;
  } finally {
    await app.close();
  }
}

/**
 * One measurement run (in its own process: `--child routing-calls`): the variants take turns call by
 * call, in a fresh random order each time (a fixed order would always put the same variant after raw
 * pg), so JIT, GC, scheduling and machine noise fall on all of them alike.
 */
export async function routingCallsRun(): Promise<string> {
  const { topology, routedIds } = await seededTopology();
  let app: INestApplication | undefined;
  let ownPool: MikroORM | undefined;
  try {
    app = await createApp(topology, 'interceptor');
    const accounts = app.get(AccountsService);
    const replica = app.get(NodeRegistry).node('s0', 'replica', 0);
    const server = topology.server('s0', 'replica');
    // The baseline: MikroORM as a user without this library has it (its own MikroORM.init, none of our
    // hooks) on the very connection the routed calls use — the replica node's Kysely client and pg pool.
    // A second connection to the same server is a few percent slower or faster per call within one
    // process (the own-pool rows show it), which would otherwise land in the ratio.
    const standalone = await MikroORM.init({
      ...server.connection,
      entities: [BenchAccount],
      discovery: { warnWhenNoEntities: false },
      driverOptions: replica.orm.em.getConnection().getClient(),
    });
    ownPool = await MikroORM.init({
      ...server.connection,
      entities: [BenchAccount],
      discovery: { warnWhenNoEntities: false },
    });
    const ownPoolOrm = ownPool;
    const nodePool = (await replica.orm.em.getConnection().getNativeClient()) as pg.Pool;
    const plainService = new PlainAccountsService(standalone);
    const sql = 'select id, name, balance from bench_accounts where id = $1';
    const variants: Record<string, (id: string) => Promise<unknown>> = {
      [ROUTED]: (id) => accounts.findOne(id),
      [PLAIN]: (id) => standalone.em.fork().findOne(BenchAccount, id),
      'plain MikroORM in the same service method, no decorators': (id) => plainService.findOne(id),
      "plain fork of the module's node ORM (its statements pass our write guard and counters)": (id) =>
        replica.orm.em.fork().findOne(BenchAccount, id),
      'plain MikroORM with its own pool (a second connection to the same server)': (id) =>
        ownPoolOrm.em.fork().findOne(BenchAccount, id),
      'raw pg: pool.query (same connection)': (id) => nodePool.query(sql, [id]),
    };
    const names = Object.keys(variants);
    const wall: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (const name of names) for (let i = 0; i < WARMUP; i++) await variants[name](routedIds[i % routedIds.length]); // warm up
    const random = seededRandom(42);
    for (let i = 0; i < CALLS; i++) {
      const id = routedIds[i % routedIds.length];
      for (const name of shuffled(names, random)) {
        const cpuBefore = process.cpuUsage();
        const started = performance.now();
        await variants[name](id);
        wall[name].push((performance.now() - started) * 1000);
        const used = process.cpuUsage(cpuBefore);
        cpu[name].push(used.user + used.system);
      }
    }
    const run: CallsRun = Object.fromEntries(names.map((n) => [n, { wall: median(wall[n]), cpu: mean(cpu[n]) }]));
    return JSON.stringify(run);
  } finally {
    // `standalone` is not closed: closing it would destroy the node's client, which the module closes
    await app?.close();
    await ownPool?.close(true);
    await topology.stop();
  }
}

/**
 * Routing overhead: RUNS measurement processes (each its own servers, JIT and connections: one process
 * alone moves by a few percent), then the sample-style app over HTTP under each context mount.
 */
export async function routingBench(label = ''): Promise<string> {
  const loadBefore = loadavg()[0];
  const runs: CallsRun[] = [];
  for (let i = 0; i < RUNS; i++)
    runs.push(JSON.parse((await runSuiteInChild('routing-calls')).trim().split('\n').at(-1)!) as CallsRun);
  const loadAfter = loadavg()[0];
  const names = Object.keys(runs[0]);
  const across = (name: string, of: 'wall' | 'cpu') => median(runs.map((run) => run[name][of]));
  const [plainWall, plainCpu] = [across(PLAIN, 'wall'), across(PLAIN, 'cpu')];
  const ratios = runs.map((run) => run[ROUTED].wall / run[PLAIN].wall);
  const ratio = median(ratios);

  return [
    `### Routing overhead (primary-key findOne on one replica, sequential)${label}`,
    '',
    `${RUNS} measurement processes, each with its own servers and ${ROWS} rows; in each, ${CALLS} calls per variant, the variants taking turns ` +
      'call by call in a random order. Wall time is what the caller waits (mostly the server round trip): the median per call in each ' +
      'process, then the median of the processes. CPU time is this process’s own work (mean per call). All rows but the own-pool one ' +
      'run on one connection (the replica node’s pool), so the server side is the same for each. ' +
      `Load average (1 min) of this 2-core machine: ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after.`,
    '',
    '| variant | median wall µs | wall ratio to plain MikroORM | mean CPU µs | CPU ratio |',
    '|---|---|---|---|---|',
    ...names.map((n) => {
      const [w, c] = [across(n, 'wall'), across(n, 'cpu')];
      return `| ${n} | ${w.toFixed(1)} | ${(w / plainWall).toFixed(3)} | ${c.toFixed(1)} | ${(c / plainCpu).toFixed(3)} |`;
    }),
    '',
    `- Routed / plain MikroORM, median wall per process: ${ratios.map((r) => r.toFixed(3)).join(', ')}; median ` +
      `**${ratio.toFixed(3)}** (goal ≤ 1.05: ${ratio <= 1.05 ? 'met' : 'missed'}).`,
    '',
    await httpSection(label),
  ].join('\n');
}

/**
 * The sample-style app over HTTP under each context mount, side by side on one topology (also the
 * `http` suite by itself: `npm run bench -- http`).
 */
export async function httpSection(label = ''): Promise<string> {
  const { topology, routedIds } = await seededTopology();
  let http: Record<HttpVariant, { rate: number; cpuUs: number }>;
  try {
    http = await httpBench(topology, routedIds);
  } finally {
    await topology.stop();
  }
  const none = http.none;
  const middleware = http.middleware;
  return [
    `### Sample-style app over HTTP (GET /accounts/:id → @ShardBy + @ReadReplica findOne)${label}`,
    '',
    `Keep-alive HTTP/1.1, ${HTTP_CONCURRENCY} concurrent clients, ${HTTP_SECONDS} s per run, ${HTTP_RUNS} runs per variant, ` +
      'the variants in a rotated order each round; median requests/s and its ratio to no request context, and the ' +
      'median CPU time of this process (the server and the load client) per request. The process waits on the ' +
      'database part of the time (it is not CPU-bound), so req/s also moves with the servers’ share of the 2 cores; ' +
      'CPU per request is the steadier measure of what a mount adds.',
    '',
    '| variant | median req/s | ratio to no context | CPU µs per request | ratio to no context |',
    '|---|---|---|---|---|',
    ...httpVariants().map(
      (v) =>
        `| ${HTTP_LABELS[v]} | ${http[v].rate.toFixed(0)} | ${(http[v].rate / none.rate).toFixed(3)} | ` +
        `${http[v].cpuUs.toFixed(0)} | ${(http[v].cpuUs / none.cpuUs).toFixed(3)} |`,
    ),
    '',
    ...(middleware === undefined
      ? []
      : [
          `- Middleware mount req/s / no context: **${(middleware.rate / none.rate).toFixed(3)}** ` +
            `(goal ≥ 0.97: ${middleware.rate / none.rate >= 0.97 ? 'met' : 'missed'}).`,
          `- Middleware mount CPU per request / no context: **${(middleware.cpuUs / none.cpuUs).toFixed(3)}** ` +
            `(goal ≤ 1.03: ${middleware.cpuUs / none.cpuUs <= 1.03 ? 'met' : 'missed'}).`,
          '',
        ]),
  ].join('\n');
}

/** A small seeded PRNG (mulberry32): the same order sequence on every run. */
function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

function rotate<T>(list: readonly T[], by: number): T[] {
  return list.map((_, i) => list[(i + by) % list.length]);
}

const HTTP_CONCURRENCY = 16;
const HTTP_SECONDS = 3;
const HTTP_RUNS = Number(process.env.HTTP_BENCH_RUNS ?? 5);

async function httpBench(
  topology: EmbeddedTopology,
  ids: readonly string[],
): Promise<Record<HttpVariant, { rate: number; cpuUs: number }>> {
  const variants = httpVariants();
  const results = Object.fromEntries(variants.map((v) => [v, [] as LoadResult[]])) as Record<HttpVariant, LoadResult[]>;
  const apps = {} as Record<HttpVariant, INestApplication>;
  for (const variant of variants) apps[variant] = await createApp(topology, variant);
  try {
    for (const variant of variants) await load(await apps[variant].getUrl(), ids, 1); // warm up
    for (let run = 0; run < HTTP_RUNS; run++) {
      for (const variant of rotate(variants, run)) results[variant].push(await load(await apps[variant].getUrl(), ids));
    }
  } finally {
    await Promise.all(variants.map((v) => apps[v].close()));
  }
  if (process.env.HTTP_BENCH_VERBOSE) console.error(JSON.stringify(results));
  return Object.fromEntries(
    variants.map((v) => [
      v,
      { rate: median(results[v].map((r) => r.rate)), cpuUs: median(results[v].map((r) => r.cpuUs)) },
    ]),
  ) as Record<HttpVariant, { rate: number; cpuUs: number }>;
}

/** A bounded closed-loop load from this process: HTTP_CONCURRENCY clients for HTTP_SECONDS. */
/** One load run: requests per second, and this process's CPU time (server and load client) per request in µs. */
interface LoadResult {
  rate: number;
  cpuUs: number;
}

async function load(baseUrl: string, ids: readonly string[], seconds = HTTP_SECONDS): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let failed = 0;
  const get = (path: string) =>
    new Promise<void>((resolve) => {
      http
        .get(`${baseUrl}${path}`, { agent }, (res) => {
          if (res.statusCode !== 200) failed++;
          res.resume();
          res.on('end', resolve);
        })
        .on('error', () => (failed++, resolve()));
    });
  const client = async (offset: number) => {
    for (let i = offset; performance.now() < deadline; i += HTTP_CONCURRENCY) {
      await get(`/accounts/${ids[i % ids.length]}`);
      done++;
    }
  };
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(Array.from({ length: HTTP_CONCURRENCY }, (_, c) => client(c)));
  const cpu = process.cpuUsage(cpuBefore);
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  if (failed) throw new Error(`${failed} HTTP requests failed during the benchmark`);
  return { rate: done / elapsed, cpuUs: (cpu.user + cpu.system) / done };
}
