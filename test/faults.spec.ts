import { Injectable } from '@nestjs/common';
import {
  CommitOutcomeUnknownError,
  NodeRegistry,
  ReadReplica,
  ReplicationMonitor,
  ShardBy,
  ShardedEntityManager,
  ShardingError,
  ShardingSchema,
  ShardUnavailableError,
  waitForReplicas,
  type ShardingModuleOptions,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { Account } from './support/entities.js';
import { until } from './support/pids.js';
import { TestApps } from './support/test-apps.js';

/** Every path a write can take to the primary: a flush, a transaction, an autocommit statement, a QueryBuilder. */
@Injectable()
class WritesService {
  constructor(private readonly em: ShardedEntityManager) {}

  @ShardBy('id')
  async flush(id: string, name = 'n') {
    this.em.create(Account, { id, name });
    await this.em.flush();
  }

  @ShardBy('id')
  async transactional(id: string, name = 'tx') {
    await this.em.transactional(async (em) => {
      em.create(Account, { id, name });
    });
  }

  @ShardBy('id')
  async autocommit(id: string) {
    await this.em.execute('insert into accounts (id, name) values (?, ?)', [id, 'auto']);
  }

  @ShardBy('id')
  async queryBuilder(id: string) {
    await this.em.createQueryBuilder(Account).insert({ id, name: 'qb' }).execute();
  }

  /** An autocommit statement on the primary that takes `seconds` (so a test can cut its connection). */
  @ShardBy('id')
  async slow(id: string, sql: string, params: unknown[] = []) {
    void id; // the shard key only
    return this.em.execute(sql, params);
  }

  @ShardBy('id')
  @ReadReplica()
  async read(id: string) {
    return this.em.findOne(Account, id);
  }

  @ShardBy('id')
  async stream(id: string) {
    void id;
    let rows = 0;
    for await (const _ of this.em.stream(Account)) rows++;
    return rows;
  }
}

const WRITE_PATHS = ['flush', 'transactional', 'autocommit', 'queryBuilder'] as const;

/**
 * Faults on real servers, acted on in their first milliseconds: a primary stopped under continuous
 * writes on every path, connections cut during a statement and during COMMIT, hostile values, repeated
 * outages under load, a blocked event loop. The health monitor runs once a minute in the apps that test
 * the first moment, so what they see is what a caller meets before any check noticed anything.
 */
describe('faults: named from the first moment, no node taken out by one statement, no leaked connection', () => {
  let topology: EmbeddedTopology;
  const apps = new TestApps(() => topology.shards, [WritesService], {
    health: { intervalMs: 60_000, timeoutMs: 1_000 },
  });
  let ids = 0;
  const nextId = (prefix = 'f') => `${prefix}-${++ids}-${Math.random().toString(36).slice(2, 8)}`;

  async function start(options: Partial<ShardingModuleOptions> = {}) {
    const app = await apps.start(options);
    const registry = app.get(NodeRegistry);
    return {
      app,
      writes: app.get(WritesService),
      registry,
      monitor: app.get(ReplicationMonitor),
      primary: () => registry.health().find((n) => n.id === 's0/primary')!,
    };
  }

  /** Kills the app's backends running `like` on the primary (as pg_terminate_backend would for an operator). */
  async function terminate(like: string): Promise<number> {
    const rows = await topology
      .server('s0')
      .query<{ n: string }>(
        `select count(pg_terminate_backend(pid))::text as n from pg_stat_activity where query like $1 and pid <> pg_backend_pid()`,
        [like],
      );
    return Number(rows[0].n);
  }

  /** Waits until a statement matching `like` runs on the primary, then terminates its backend. */
  async function terminateWhenRunning(like: string): Promise<void> {
    await until(`a statement like ${like} runs`, async () => {
      const rows = await topology
        .server('s0')
        .query(`select 1 from pg_stat_activity where query like $1 and state = 'active' and pid <> pg_backend_pid()`, [
          like,
        ]);
      return rows.length > 0;
    });
    expect(await terminate(like)).toBeGreaterThan(0);
  }

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 1, replicasPerShard: 1 });
    const { app } = await start();
    await app.get(ShardingSchema).refresh();
    // COMMIT of a row named 'slow-commit' takes 3 s: a deferred constraint trigger sleeps at commit time
    await topology.server('s0').query(`
      create function slow_commit() returns trigger language plpgsql as $$
        begin perform pg_sleep(3); return null; end $$;
      create constraint trigger slow_commit after insert on accounts deferrable initially deferred
        for each row when (new.name = 'slow-commit') execute function slow_commit();`);
    await waitForReplicas(app.get(NodeRegistry));
  });

  afterAll(async () => {
    await apps.closeAll();
    await topology?.stop();
  });

  it('a value with a NUL byte, or one that reads "connection terminated", is the statement’s error and takes no node out', async () => {
    const { writes, primary } = await start();
    const nul = await writes.flush(nextId(), 'a\u0000b').catch((e: unknown) => e);
    expect(nul).toBeInstanceOf(Error);
    expect(nul).not.toBeInstanceOf(ShardingError);
    expect((nul as { code?: string }).code).toBe('08P01');
    const quoted = await writes
      .slow(nextId(), 'select ?::int as n', ['connection terminated'])
      .catch((e: unknown) => e);
    expect((quoted as Error).message).toContain('invalid input syntax for type integer: "connection terminated"');
    expect(quoted).not.toBeInstanceOf(ShardingError);
    expect(primary()).toMatchObject({ status: 'up', error: undefined });
    // 20 such statements in parallel with 40 writes: every write succeeds
    const results = await Promise.allSettled([
      ...Array.from({ length: 20 }, () => writes.slow(nextId(), 'select ?::int', ['connection terminated'])),
      ...Array.from({ length: 20 }, () => writes.flush(nextId(), 'x\u0000y')),
      ...Array.from({ length: 40 }, () => writes.flush(nextId())),
    ]);
    expect(results.slice(0, 40).every((r) => r.status === 'rejected')).toBe(true);
    expect(results.slice(40).filter((r) => r.status === 'rejected')).toEqual([]);
    expect(primary().status).toBe('up');
  });

  it('a backend killed during a statement fails its caller with ShardUnavailableError; the node stays up for everyone else', async () => {
    const { writes, primary } = await start();
    const pending = writes.slow(nextId(), 'select pg_sleep(5) /* killed-read */').catch((e: unknown) => e);
    await terminateWhenRunning('%killed-read%');
    const error = await pending;
    expect(error).toBeInstanceOf(ShardUnavailableError);
    expect((error as ShardUnavailableError).node).toBe('s0/primary');
    // the probe on the control connection found the server alive: the circuit stayed closed
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(primary().status).toBe('up');
    await writes.flush(nextId());
  });

  it('every backend of the application killed at once (the checks’ own connection too): callers get named errors, the node stays up', async () => {
    const { writes, primary } = await start();
    await writes.flush(nextId()); // the control connection and the pool are open
    const pending = writes.slow(nextId(), 'select pg_sleep(5) /* killed-all */').catch((e: unknown) => e);
    await until('the statement runs', async () => {
      const rows = await topology
        .server('s0')
        .query(
          `select 1 from pg_stat_activity where query like '%killed-all%' and state = 'active' and pid <> pg_backend_pid()`,
        );
      return rows.length > 0;
    });
    expect(await terminate('%')).toBeGreaterThanOrEqual(3); // at once: the statement's, the pool's, the control's
    expect(await pending).toBeInstanceOf(ShardUnavailableError);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(primary().status).toBe('up');
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => writes.flush(nextId())));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  });

  it('a connection lost during COMMIT, or during an autocommit write, is CommitOutcomeUnknownError (never a plain failure to retry)', async () => {
    const { writes } = await start();
    for (const path of ['flush', 'transactional'] as const) {
      const id = nextId(`commit-${path}`);
      const pending = writes[path](id, 'slow-commit').catch((e: unknown) => e);
      await terminateWhenRunning('commit');
      const error = await pending;
      expect(error).toBeInstanceOf(CommitOutcomeUnknownError);
      expect((error as CommitOutcomeUnknownError).message).toMatch(/may or may not have been applied/);
    }
    const id = nextId('auto');
    const pending = writes
      .slow(id, "insert into accounts (id, name) select ?, 'lost' from pg_sleep(3) /* lost-insert */", [id])
      .catch((e: unknown) => e);
    await terminateWhenRunning('%lost-insert%');
    expect(await pending).toBeInstanceOf(CommitOutcomeUnknownError);
  });

  it('a primary stopped under continuous writes: every failure on every path is named, its circuit opens with the first, the pool is clean after', async () => {
    const { writes, primary, registry, monitor } = await start();
    const server = topology.server('s0');
    const errors: unknown[] = [];
    let acknowledged = 0;
    let stopping = false;
    let firstFailureAt = 0;
    const writer = async (path: (typeof WRITE_PATHS)[number]) => {
      while (!stopping) {
        try {
          await writes[path](nextId('out'));
          acknowledged++;
        } catch (error) {
          if (!firstFailureAt) firstFailureAt = Date.now();
          errors.push(error);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    };
    const writers = WRITE_PATHS.flatMap((path) => [writer(path), writer(path)]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = server.stop();
    await until('the first write failed', () => firstFailureAt > 0, 10_000);
    await until('the primary is marked down', () => primary().status === 'down', 2_000);
    const downWhenFirstFailed = Date.now() - firstFailureAt;
    await stopped;
    await new Promise((resolve) => setTimeout(resolve, 500));
    stopping = true;
    await Promise.all(writers);
    expect(downWhenFirstFailed).toBeLessThan(1_000); // the monitor runs once a minute here: it was not the monitor
    expect(errors.length).toBeGreaterThan(0);
    const unnamed = errors.filter(
      (e) => !(e instanceof ShardUnavailableError || e instanceof CommitOutcomeUnknownError),
    );
    expect(unnamed.map((e) => String(e))).toEqual([]);
    for (const error of errors)
      expect((error as Error).message).not.toContain((topology.shards.s0.primary as { password: string }).password);

    await server.start();
    await monitor.checkNow();
    expect(primary().status).toBe('up');
    await writes.flush(nextId());
    const [{ n }] = await server.query<{ n: string }>(`select count(*)::text as n from accounts where id like 'out-%'`);
    const unknown = errors.filter((e) => e instanceof CommitOutcomeUnknownError).length;
    expect(Number(n)).toBeGreaterThanOrEqual(acknowledged);
    expect(Number(n)).toBeLessThanOrEqual(acknowledged + unknown);
    expect(registry.health().find((h) => h.id === 's0/primary')!.pool).toMatchObject({ waiting: 0 });
  });

  it('repeated outages under 32 writers: writes resume after each, no connection leaks, close() finishes', async () => {
    const { app, writes, primary } = await start({ health: { intervalMs: 100, timeoutMs: 1_000 } });
    const server = topology.server('s0');
    for (let outage = 1; outage <= 3; outage++) {
      let stopping = false;
      const failures: unknown[] = [];
      const writer = async () => {
        while (!stopping) {
          await writes.flush(nextId('load')).catch((e: unknown) => {
            failures.push(e);
            return new Promise((resolve) => setTimeout(resolve, 10));
          });
        }
      };
      const writers = Array.from({ length: 32 }, writer);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await server.start();
      await until(`writes resume after outage ${outage}`, async () => {
        try {
          await writes.flush(nextId('probe'));
          return true;
        } catch {
          return false;
        }
      });
      stopping = true;
      await Promise.all(writers);
      expect(primary().status).toBe('up');
      expect(failures.filter((e) => !(e instanceof ShardingError)).map(String)).toEqual([]);
      const pool = primary().pool!;
      expect(pool.waiting).toBe(0);
      expect(pool.idle).toBe(pool.total);
    }
    // 40 concurrent writes all succeed after the third outage
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => writes.flush(nextId())));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const started = Date.now();
    await apps.close(app);
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it('a stream, a QueryBuilder and a replica read meet a stopped node with named errors too', async () => {
    const { writes, primary, monitor } = await start();
    await writes.flush(nextId());
    const server = topology.server('s0');
    await server.stop();
    try {
      const failures = await Promise.all([
        writes.stream(nextId()).catch((e: unknown) => e),
        writes.queryBuilder(nextId()).catch((e: unknown) => e),
      ]);
      for (const failure of failures) expect(failure).toBeInstanceOf(ShardUnavailableError);
      expect(primary().status).toBe('down');
      // the replica still answers reads (whatever it has replayed)
      await expect(writes.read(nextId())).resolves.toBeNull();
    } finally {
      await server.start();
      await monitor.checkNow();
    }
    expect(primary().status).toBe('up');
  });

  it('a blocked event loop does not mark healthy nodes down', async () => {
    const { registry } = await start({ health: { intervalMs: 50, timeoutMs: 300 } });
    let openings = 0;
    for (const node of registry.nodes) {
      const markDown = node.health.markDown.bind(node.health);
      node.health.markDown = (reason, now) => {
        openings++;
        markDown(reason, now);
      };
    }
    for (let i = 0; i < 4; i++) {
      const until = Date.now() + 1_200; // four times the check timeout, with checks in flight
      while (Date.now() < until) {
        /* busy: the application is computing */
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(openings).toBe(0);
    expect(registry.health().map((n) => n.status)).toEqual(['up', 'up']);
  });
});
