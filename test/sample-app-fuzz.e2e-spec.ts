import { ConsoleLogger } from '@nestjs/common';
import fc from 'fast-check';
import request from 'supertest';
import { CrossShardQuery, NodeRegistry, waitForReplicas } from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { bootstrap, type RunningSampleApp } from '../sample-app/bootstrap.js';
import {
  anyRequest,
  cursorRequest,
  listRequest,
  signCursor,
  tokenRequest,
  USER_SORTS,
  writeRequest,
  type FuzzWorld,
  type RealCursor,
} from './support/fuzz-arbitraries.js';
import { checkAnswer, FailureSurvey, routeOf, type FuzzSecrets, type Violation } from './support/fuzz-checks.js';
import { abbreviate, sendFuzzRequest, type FuzzRequest } from './support/fuzz-http.js';

/**
 * Property-based fuzz of the sample app's HTTP surface (fast-check), on real embedded PostgreSQL
 * (2 shards × primary + replica), with no faults: for every request a hostile client may send —
 * any method, path, query, headers and body, NUL bytes and lone surrogates included — the answer is
 * never a 5xx (503 only while a node is down), never shows a node address, SQL, a PostgreSQL message,
 * a password, a stack or a server path; no node is marked down; and the app still answers a normal
 * `GET /users?limit=1` (200) and `POST /users` (201) right after it.
 *
 * Reproducible: `FUZZ_SEED` (default below) and `FUZZ_RUNS` (runs per property) choose the run; a
 * failure prints the shrunk request and the seed and path (`FUZZ_PATH` with `-t '<property>'` replays
 * it). Ids, cursors and tokens are taken from the running app, so a replay is the same request up
 * to those values. `FUZZ_SURVEY=1` does not stop at the first failure: each property lists every
 * distinct failure class it met, with the shortest request of each.
 *
 *   NODE_OPTIONS=--experimental-vm-modules npx jest test/sample-app-fuzz.e2e-spec.ts
 *   FUZZ_SEED=7 FUZZ_RUNS=500 FUZZ_SURVEY=1 NODE_OPTIONS=--experimental-vm-modules npx jest test/sample-app-fuzz.e2e-spec.ts
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_250_611);
const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const PATH = process.env.FUZZ_PATH;
const SURVEY = process.env.FUZZ_SURVEY === '1';
/** fast-check stops itself (shrinking included) before Jest would, so the counterexample is always printed. */
const BUDGET_MS = Math.max(45_000, RUNS * 600);

describe('sample app under a hostile client (property-based fuzz)', () => {
  let topology: EmbeddedTopology;
  let running: RunningSampleApp;
  let world: FuzzWorld;
  let secrets: FuzzSecrets;
  /** What the app logged as errors during the current request (the cause behind a 500 body). */
  const serverErrors: string[] = [];

  const nodesDown = () =>
    running.app
      .get(NodeRegistry)
      .health()
      .filter((node) => node.status !== 'up')
      .map((node) => `${node.id} ${node.status}${node.error ? ` (${node.error})` : ''}`);

  /** A normal read and a normal write, as any client would send them: the violations if either fails. */
  async function stillServes(): Promise<Violation[]> {
    const violations: Violation[] = [];
    for (const [what, call, expected] of [
      ['GET /users?limit=1', () => request(running.url).get('/users?limit=1'), 200],
      [
        'POST /users',
        () => request(running.url).post('/users').send({ email: 'still@example.com', name: 'Still' }),
        201,
      ],
    ] as const) {
      const res = await call();
      if (res.status !== expected) {
        const excerpt = abbreviate(res.text, 400);
        violations.push({
          kind: 'stopped serving',
          detail: `then ${what} answered ${res.status}`,
          status: res.status,
          excerpt,
        });
      }
    }
    return violations;
  }

  /** Sends one fuzz request and checks every property; the violations found (none when all hold). */
  async function probe(req: FuzzRequest, statuses?: Map<string, number>): Promise<Violation[]> {
    serverErrors.length = 0;
    const res = await sendFuzzRequest(running.url, req);
    const serverLog = serverErrors.length ? serverErrors.join(' | ') : undefined;
    const key = `${routeOf(req)} → ${res.status}`;
    statuses?.set(key, (statuses.get(key) ?? 0) + 1);
    const down = nodesDown();
    const violations: Violation[] = checkAnswer(res, secrets, down).map((v) => ({ ...v, serverLog }));
    if (down.length) {
      const excerpt = abbreviate(res.text, 400);
      violations.push({ kind: 'node marked down', detail: down.join('; '), status: res.status, excerpt, serverLog });
    }
    return [...violations, ...(await stillServes())];
  }

  /** One property over `requests`: fails on the first violation (shrunk), or in survey mode lists them all. */
  async function fuzz(requests: fc.Arbitrary<FuzzRequest>): Promise<void> {
    const survey = new FailureSurvey();
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(requests, async (req) => {
        const violations = await probe(req, SURVEY ? statuses : undefined);
        if (SURVEY) survey.record(req, violations);
        else if (violations.length) {
          throw new Error(
            violations
              .map(
                (v) =>
                  `${v.kind}: ${v.detail}\n    answer ${v.status}: ${v.excerpt || '(empty)'}` +
                  (v.serverLog ? `\n    server log: ${abbreviate(v.serverLog, 1_000)}` : ''),
              )
              .join('\n'),
          );
        }
      }),
      { seed: SEED, numRuns: RUNS, ...(PATH && { path: PATH }), interruptAfterTimeLimit: BUDGET_MS },
    );
    if (SURVEY) {
      const lines = [...statuses].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `  ${k}: ${n}`);
      console.log(`Answers by route and status:\n${lines.join('\n')}`);
    }
    if (survey.size) {
      throw new Error(`${survey.size} failure classes (FUZZ_SEED=${SEED}, FUZZ_RUNS=${RUNS}):\n${survey.report()}`);
    }
  }

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
    running = await bootstrap({ SHARDING_SHARDS: JSON.stringify(topology.shards), PORT: '0' });
    running.app.useLogger(new ErrorCapturingLogger(serverErrors));
    const registry = running.app.get(NodeRegistry);
    for (let waited = 0; nodesDown().length && waited < 15_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(nodesDown()).toEqual([]);

    const userIds: string[] = [];
    const orderIds: string[] = [];
    const tokens: string[] = [];
    for (let i = 0; i < 4; i++) {
      const user = await request(running.url)
        .post('/users')
        .send({ email: `fuzz${i}@example.com`, name: `Fuzz ${i}` })
        .expect(201);
      userIds.push(user.body.data.id);
      const order = await request(running.url)
        .post(`/users/${user.body.data.id}/orders`)
        .send({ totalCents: 100 + i })
        .expect(201);
      orderIds.push(order.body.data.id);
      for (const answer of [user, order]) {
        const token = answer.headers['x-shard-consistency'];
        if (typeof token === 'string') tokens.push(token);
      }
    }
    expect(tokens.length).toBeGreaterThan(0);
    await waitForReplicas(registry);

    const cursors: RealCursor[] = [];
    for (const orderBy of USER_SORTS) {
      for (const order of ['asc', 'desc']) {
        const page = await request(running.url).get(`/users?first=2&orderBy=${orderBy}&order=${order}`).expect(200);
        expect(typeof page.body.nextCursor).toBe('string');
        cursors.push({ orderBy, order, cursor: page.body.nextCursor });
      }
    }
    const cursorSecret = await cursorSecretOf(running.app.get(CrossShardQuery), cursors[0].cursor);
    if (cursorSecret === undefined) {
      console.warn(
        'Fuzz: the cursor key was not found: forged cursors go out unsigned (only the signature check sees them).',
      );
    }
    world = { shardNames: registry.shardNames, userIds, orderIds, cursors, tokens, cursorSecret };
    secrets = {
      passwords: topology.servers.map((server) => server.connection.password ?? '').filter(Boolean),
      serverPaths: [process.cwd(), topology.dataDir],
    };
  });

  afterAll(async () => {
    await running?.close();
    await topology?.stop();
  });

  // after each property: no node down, and a normal read and write still work
  afterEach(async () => {
    expect(nodesDown()).toEqual([]);
    expect(await stillServes()).toEqual([]);
  });

  const timeout = BUDGET_MS + 30_000;

  it(
    'GET /users: hostile limit, offset, first, orderBy and order values, arrays and nested keys',
    () => fuzz(listRequest(world)),
    timeout,
  );

  it(
    'cursor pages: real cursors intact, tampered, re-encoded, forged and signed, random',
    () => fuzz(cursorRequest(world)),
    timeout,
  );

  it(
    'writes: hostile ids and bodies on POST/PATCH/PUT/DELETE of users and orders',
    () => fuzz(writeRequest(world)),
    timeout,
  );

  it(
    'consistency tokens: forged, tampered, repeated and over-long on reads and writes',
    () => fuzz(tokenRequest(world)),
    timeout,
  );

  it('anything: any method, path, query string, headers and body', () => fuzz(anyRequest(world)), timeout);
});

/** Nest's console logger that also keeps every error line it logs (message, then the stack's first line). */
class ErrorCapturingLogger extends ConsoleLogger {
  constructor(private readonly sink: string[]) {
    super();
  }

  override error(message: unknown, ...rest: unknown[]): void {
    const stack = rest.find((part): part is string => typeof part === 'string' && part.includes('\n'));
    this.sink.push(`${String(message)}${stack ? ` [${stack.split('\n')[0]}]` : ''}`);
    super.error(message, ...rest);
  }
}

/**
 * The key the app signs cursors with, read from the CrossShardQuery's codec (a field holding it, or a
 * promise of it) and accepted only if it signs `sample` exactly as the app did; undefined otherwise.
 */
async function cursorSecretOf(query: object, sample: string): Promise<string | undefined> {
  const body = sample.split('.')[0];
  for (const field of Object.values(query)) {
    const codec: unknown = await Promise.resolve(field).catch(() => undefined);
    const secret = (codec as { secret?: unknown } | undefined)?.secret;
    if (typeof secret === 'string' && signCursor(secret, body) === sample) return secret;
  }
  return undefined;
}
