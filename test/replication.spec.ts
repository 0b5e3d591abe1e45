import { Injectable } from '@nestjs/common';
import {
  InvalidConsistencyTokenError,
  NodeRegistry,
  ReadReplica,
  ReplicationMonitor,
  ShardBy,
  ShardedEntityManager,
  ShardingSchema,
  ShardingService,
  ShardUnavailableError,
  waitForReplicas,
  type ShardingModuleOptions,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { Account } from './support/entities.js';
import { until } from './support/pids.js';
import { TestApps } from './support/test-apps.js';
import { nodeByPort, whereAmI } from './support/where.js';

@Injectable()
class AccountsService {
  constructor(private readonly em: ShardedEntityManager) {}

  @ShardBy('id')
  async create(id: string, name = 'n') {
    this.em.create(Account, { id, name });
    await this.em.flush();
    return whereAmI(this.em);
  }

  @ShardBy('id')
  @ReadReplica()
  async find(id: string) {
    const account = await this.em.findOne(Account, id);
    return { account, at: await whereAmI(this.em) };
  }

  /** The only shard's replica (no key needed with one shard). */
  @ReadReplica()
  async where() {
    return whereAmI(this.em);
  }
}

/**
 * Replicas that stay correct and available, on real servers: one shard, a primary and two streaming
 * replicas. Servers are really stopped, delayed (recovery_min_apply_delay) and promoted; every
 * assertion about routing reads the port of the server that answered.
 */
describe('replicas: balancers, health, lag, read-your-writes, failover', () => {
  let topology: EmbeddedTopology;
  let byPort: Map<number, string>;
  const apps = new TestApps(() => topology.shards, [AccountsService], {
    health: { intervalMs: 100, timeoutMs: 1_000 },
  });

  async function start(options: Partial<ShardingModuleOptions> = {}) {
    const app = await apps.start(options);
    return {
      app,
      accounts: app.get(AccountsService),
      sharding: app.get(ShardingService),
      registry: app.get(NodeRegistry),
      node: (id: string) => app.get(NodeRegistry).nodes.find((n) => n.id === id)!,
    };
  }

  const delayReplay = async (replica: number, delay: string | null) => {
    const server = topology.server('s0', 'replica', replica);
    await server.query(
      delay === null
        ? 'alter system reset recovery_min_apply_delay'
        : `alter system set recovery_min_apply_delay = '${delay}'`,
    );
    await server.query('select pg_reload_conf()');
  };

  const countOn = (ports: { port: number }[]) => {
    const counts: Record<string, number> = {};
    for (const { port } of ports) counts[byPort.get(port)!] = (counts[byPort.get(port)!] ?? 0) + 1;
    return counts;
  };

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 1, replicasPerShard: 2 });
    byPort = nodeByPort(topology);
    const { app } = await start();
    await app.get(ShardingSchema).refresh();
    await waitForReplicas(app.get(NodeRegistry));
  });

  afterAll(async () => {
    await apps.closeAll();
    await topology?.stop();
  });

  it('the monitor reports every node: role, status, lag, WAL position, counters — and no password', async () => {
    const { registry, accounts } = await start();
    await accounts.where();
    const report = registry.health();
    expect(report.map((n) => [n.id, n.role, n.status])).toEqual([
      ['s0/primary', 'primary', 'up'],
      ['s0/replica-1', 'replica', 'up'],
      ['s0/replica-2', 'replica', 'up'],
    ]);
    for (const node of report) {
      expect(node.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(node.lagMs).toBeGreaterThanOrEqual(0);
    }
    expect(report.reduce((sum, n) => sum + n.counters.queries, 0)).toBeGreaterThan(0);
    expect(JSON.stringify(report)).not.toContain(topology.server('s0').connection.password!);
  });

  it('balancers: round-robin alternates, weighted follows weights, least-busy and custom pick as told', async () => {
    const reads = async (accounts: AccountsService, n: number) =>
      countOn(await Promise.all(Array.from({ length: n }, () => accounts.where())));

    const roundRobin = await start();
    expect(await reads(roundRobin.accounts, 200)).toEqual({ 's0/replica-1': 100, 's0/replica-2': 100 });

    const weightedShards = {
      s0: {
        ...topology.shards.s0,
        replicas: topology.shards.s0.replicas!.map((r, i) => ({ ...r, weight: i === 0 ? 3 : 1 })),
      },
    };
    const weighted = await start({ shards: weightedShards, readReplicas: { balancer: 'weighted' } });
    expect(await reads(weighted.accounts, 200)).toEqual({ 's0/replica-1': 150, 's0/replica-2': 50 });

    const random = await start({ readReplicas: { balancer: 'random' } });
    const spread = await reads(random.accounts, 400);
    expect(spread['s0/replica-1']).toBeGreaterThan(120);
    expect(spread['s0/replica-2']).toBeGreaterThan(120);

    // least-busy: while replica-1 has statements in flight, reads go to replica-2
    const leastBusy = await start({ readReplicas: { balancer: 'least-busy' } });
    const replica1 = topology.server('s0', 'replica', 0).port;
    const held = leastBusy.node('s0/replica-1');
    held.health.inFlight += 5; // as if five slow queries were running there
    try {
      const sequential = [];
      for (let i = 0; i < 20; i++) sequential.push(await leastBusy.accounts.where());
      expect(sequential.every((at) => at.port !== replica1)).toBe(true);
    } finally {
      held.health.inFlight -= 5;
    }

    const custom = await start({ readReplicas: { balancer: (replicas) => replicas[replicas.length - 1] } });
    expect(await reads(custom.accounts, 20)).toEqual({ 's0/replica-2': 20 });
  });

  it('primaryShare 0.1: the primary serves about a tenth of replica reads, the replicas the rest; a down primary takes none', async () => {
    const { accounts, registry } = await start({ readReplicas: { primaryShare: 0.1 } });
    const counts = countOn(await Promise.all(Array.from({ length: 4_000 }, () => accounts.where())));
    const share = (id: string) => (counts[id] ?? 0) / 4_000;
    expect(share('s0/primary')).toBeGreaterThanOrEqual(0.08);
    expect(share('s0/primary')).toBeLessThanOrEqual(0.12);
    for (const replica of ['s0/replica-1', 's0/replica-2']) {
      expect(share(replica)).toBeGreaterThan(0.4);
      expect(share(replica)).toBeLessThan(0.5);
    }
    // a shard's own setting wins: 0 here
    const perShard = await start({
      shards: { s0: { ...topology.shards.s0, primaryShare: 0 } },
      readReplicas: { primaryShare: 1 },
    });
    expect(
      countOn(await Promise.all(Array.from({ length: 100 }, () => perShard.accounts.where())))['s0/primary'],
    ).toBeUndefined();
    // with the primary down its share goes to the replicas: no read fails
    const primary = topology.server('s0');
    await primary.stop();
    try {
      await until('the primary is seen down', () => registry.health()[0].status === 'down');
      const during = countOn(await Promise.all(Array.from({ length: 500 }, () => accounts.where())));
      expect(during['s0/primary']).toBeUndefined();
      expect((during['s0/replica-1'] ?? 0) + (during['s0/replica-2'] ?? 0)).toBe(500);
    } finally {
      await primary.start();
      await until('the primary is up again', () => registry.health()[0].status === 'up');
    }
  });

  it('read-your-writes by WAL position: in one context and across contexts with the token, never stale', async () => {
    const { accounts, sharding, node } = await start();
    await delayReplay(0, '1500ms');
    await delayReplay(1, '1500ms');
    try {
      // in one context: the read after the write does not go to a replica that has not replayed it
      for (let i = 0; i < 20; i++) {
        const id = `ryw-a-${i}`;
        const read = await sharding.withContext(async () => {
          await accounts.create(id);
          return accounts.find(id);
        });
        expect(read.account?.id).toBe(id);
      }
      // across contexts: without the token a lagging replica answers (stale), with it the read is right
      let token: string | undefined;
      await sharding.withContext(async () => {
        await accounts.create('ryw-b');
        token = sharding.consistencyToken();
      });
      expect(token).toMatch(/^c1\./);
      const stale = await sharding.withContext(() => accounts.find('ryw-b'));
      expect(stale.at.recovery).toBe(true);
      expect(stale.account).toBeNull(); // proof that the replicas really lag
      const fresh = await sharding.withContext(() => accounts.find('ryw-b'), { consistencyToken: token });
      expect(fresh.account?.id).toBe('ryw-b');
      expect(fresh.at.recovery).toBe(false); // the primary, since no replica has replayed it yet

      // once a replica has replayed the write, the same token reads from a replica
      await until('a replica replays the write', async () => {
        const [row] = await topology
          .server('s0', 'replica', 0)
          .query<{ n: string }>("select count(*) as n from accounts where id = 'ryw-b'");
        return row.n === '1';
      });
      const caughtUp = await sharding.withContext(() => accounts.find('ryw-b'), { consistencyToken: token });
      expect(caughtUp.account?.id).toBe('ryw-b');
      expect(caughtUp.at.recovery).toBe(true);
      expect(node('s0/primary').health.counters.fallbacks).toBeGreaterThan(0);
    } finally {
      await delayReplay(0, null);
      await delayReplay(1, null);
    }
    await expect(sharding.withContext(() => accounts.find('x'), { consistencyToken: 'garbage' })).rejects.toThrow(
      InvalidConsistencyTokenError,
    );
    await expect(sharding.withContext(() => accounts.find('x'), { consistencyToken: 'garbage' })).rejects.toThrow(
      /^ShardingService\.withContext\/run \(consistencyToken option\): the consistency token is not valid/,
    );
  });

  it('monotonicReads: a session passing its token never reads an older state from a more lagging replica', async () => {
    const monotonic = await start({ readReplicas: { monotonicReads: true } });
    const plain = await start();
    const paused = topology.server('s0', 'replica', 1);
    await paused.query('select pg_wal_replay_pause()');
    try {
      await monotonic.accounts.create('mono-1');
      await until('replica 1 replays the row', async () => {
        const rows = await topology.server('s0', 'replica', 0).query("select 1 from accounts where id = 'mono-1'");
        return rows.length === 1;
      });
      for (const { app } of [monotonic, plain]) await app.get(ReplicationMonitor).checkNow();
      /** Six reads of one session in six contexts, each passing on the token of the one before. */
      const session = async ({ accounts, sharding }: Awaited<ReturnType<typeof start>>) => {
        const seen: { found: boolean; node: string }[] = [];
        let token: string | undefined;
        for (let i = 0; i < 6; i++) {
          const read = await sharding.withContext(
            async () => ({ ...(await accounts.find('mono-1')), token: sharding.consistencyToken() }),
            { consistencyToken: token },
          );
          seen.push({ found: read.account !== null, node: byPort.get(read.at.port)! });
          token = read.token ?? token;
        }
        return seen;
      };
      // without the option round-robin alternates: the row is there, then gone (the proof of the setup)
      const wandering = await session(plain);
      expect(wandering.map((r) => r.found)).toContain(false);
      expect(wandering.map((r) => r.found).indexOf(true)).toBeLessThan(
        wandering.map((r) => r.found).lastIndexOf(false),
      );
      // with it: once seen, always seen; the paused replica serves nothing after the first fresh read
      const monotone = await session(monotonic);
      const first = monotone.findIndex((r) => r.found);
      expect(first).toBeGreaterThanOrEqual(0);
      expect(monotone.slice(first).every((r) => r.found)).toBe(true);
      expect(monotone.slice(first).map((r) => r.node)).not.toContain('s0/replica-2');
    } finally {
      await paused.query('select pg_wal_replay_resume()');
    }
  });

  it('maxLagMs skips a lagging replica; whenNoReplica: fail refuses instead of reading the primary', async () => {
    const { accounts, registry, app } = await start({ readReplicas: { maxLagMs: 300 } });
    const failing = await start({ readReplicas: { maxLagMs: 300, whenNoReplica: 'fail' } });
    await delayReplay(0, '5s');
    try {
      const monitor = app.get(ReplicationMonitor);
      await until('replica-1 lags over 300 ms', async () => {
        await accounts.create(`lag-${Date.now()}-${Math.random()}`);
        await monitor.checkNow();
        return (registry.health()[1].lagMs ?? 0) > 300;
      });
      const reads = countOn(await Promise.all(Array.from({ length: 50 }, () => accounts.where())));
      expect(reads).toEqual({ 's0/replica-2': 50 });

      await delayReplay(1, '5s');
      await until('both replicas lag over 300 ms', async () => {
        await accounts.create(`lag-${Date.now()}-${Math.random()}`);
        await failing.app.get(ReplicationMonitor).checkNow();
        return failing.registry.health().every((n) => n.role === 'primary' || (n.lagMs ?? 0) > 300);
      });
      await expect(failing.accounts.where()).rejects.toThrow(ShardUnavailableError);
      await expect(failing.accounts.where()).rejects.toThrow(/No replica of shard "s0" may serve this read/);
      await monitor.checkNow();
      expect((await accounts.where()).recovery).toBe(false); // default: the primary serves it
    } finally {
      await delayReplay(0, null);
      await delayReplay(1, null);
    }
    await until(
      'replica-1 caught up',
      async () => {
        await registry.nodes[0].orm.em.fork().execute('select 1');
        await app.get(ReplicationMonitor).checkNow();
        return registry.health().every((n) => (n.lagMs ?? 0) < 300);
      },
      20_000,
    );
    const after = countOn(await Promise.all(Array.from({ length: 20 }, () => accounts.where())));
    expect(after['s0/replica-1']).toBe(10);
  });

  it('a replica stopped under read load: 2,000 reads at concurrency 32 and none fails; it is used again after restart', async () => {
    const { accounts, node, registry } = await start();
    await accounts.create('load-1', 'load');
    await waitForReplicas(registry);
    const replica1 = topology.server('s0', 'replica', 0);
    const served: { port: number }[] = [];
    const failures: unknown[] = [];
    let next = 0;
    let stopping: Promise<void> | undefined;
    const worker = async () => {
      while (next < 2_000) {
        const i = next++;
        if (i === 400) stopping = replica1.stop();
        try {
          const { account, at } = await accounts.find('load-1');
          if (account?.name !== 'load') throw new Error(`read ${i} saw ${JSON.stringify(account)}`);
          served.push(at);
        } catch (error) {
          failures.push(error);
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    await stopping;
    expect(failures).toEqual([]);
    const counts = countOn(served);
    expect(counts['s0/replica-1']).toBeGreaterThan(0); // before the stop
    expect(counts['s0/replica-2']).toBeGreaterThan(1_000);
    expect(node('s0/replica-1').health.status).toBe('down');

    await replica1.start();
    await until('replica-1 is up again', () => node('s0/replica-1').health.status === 'up');
    const after = countOn(await Promise.all(Array.from({ length: 40 }, () => accounts.where())));
    expect(after['s0/replica-1']).toBe(20);
  });

  it('the primary stopped: writes fail fast with ShardUnavailableError, reads go on; restarted, writes resume and nothing committed is lost', async () => {
    const { accounts, node } = await start();
    let committed = 0;
    for (let i = 0; i < 30; i++) {
      await accounts.create(`pd-${i}`);
      committed++;
    }
    const primary = topology.server('s0');
    await primary.stop();
    await until('the monitor sees the primary down', () => node('s0/primary').health.status === 'down');

    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await expect(accounts.create(`pd-fail-${i}`)).rejects.toThrow(ShardUnavailableError);
      expect(performance.now() - started).toBeLessThan(200);
    }
    await expect(accounts.create('pd-fail-x')).rejects.toThrow(/s0\/primary .* is down/);
    const reads = await Promise.all(Array.from({ length: 20 }, (_, i) => accounts.find(`pd-${i}`)));
    expect(reads.every((r) => r.account !== null && r.at.recovery)).toBe(true);

    await primary.start();
    await until('the primary is up again', () => node('s0/primary').health.status === 'up');
    await accounts.create('pd-after');
    committed++;
    const [{ n }] = await primary.query<{ n: string }>("select count(*) as n from accounts where id like 'pd-%'");
    expect(Number(n)).toBe(committed);
    expect(node('s0/primary').health.counters.errors + node('s0/primary').health.counters.queries).toBeGreaterThan(0);
  });

  it('a replica promoted with pg_promote(): the monitor follows it and writes go there, no restart', async () => {
    const { app, accounts, registry } = await start();
    await accounts.create('before-promotion');
    await waitForReplicas(registry);
    const promoted = topology.server('s0', 'replica', 0);
    await promoted.query('select pg_promote(true, 30)');
    await until('writes go to the promoted replica', () => registry.acting('s0').primary.id === 's0/replica-1');
    // everything that targets the primary follows it: node()/fork(), the schema, waits for replicas, the route's role
    expect(registry.node('s0').id).toBe('s0/replica-1');
    expect(registry.configured('s0').primary.id).toBe('s0/primary');
    const [{ recovery }] = await registry
      .fork('s0')
      .execute<{ recovery: boolean }[]>('select pg_is_in_recovery() as recovery');
    expect(recovery).toBe(false);
    await app.get(ShardingSchema).update({ waitForReplicas: false }); // replica-2 still follows the old primary

    const at = await accounts.create('after-promotion');
    expect(at).toEqual({ port: promoted.port, recovery: false });
    const report = registry.health().find((n) => n.id === 's0/replica-1')!;
    expect(report).toMatchObject({ role: 'primary', configuredRole: 'replica', status: 'up' });
    // the old primary (still running, now diverged) serves nothing; reads avoid it
    const reads = countOn(await Promise.all(Array.from({ length: 10 }, () => accounts.where())));
    expect(reads['s0/primary']).toBeUndefined();
  });
});
