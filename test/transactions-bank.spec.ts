import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { INestApplicationContext } from '@nestjs/common';
import {
  CrossShardTransactionError,
  ShardingSchema,
  ShardingService,
  hashStrategy,
  type RecoveryReport,
} from '../lib/index.js';
import type { TransactionFaultPoint } from '../lib/transactions/fault-points.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { BANK_ENTITIES, BankAccount, TransferLeg } from './support/bank-entities.js';
import { TestApps } from './support/test-apps.js';

/**
 * The bank invariant of issue 13: money moves between 200 accounts on 4 shards in cross-shard transfers
 * (`ShardingService.transaction()`, two-phase commit) run by a child process, while the parent terminates
 * the child's backends, stops and restarts shard primaries, and the child SIGKILLs itself at each step of
 * the commit protocol. After recovery, read from the servers directly: no money appeared or vanished, every
 * transfer is whole or absent, every balance is its legs, nothing stays prepared.
 *
 * BANK_RUN_MS tunes the faulted run (default 60 s; CI keeps the default).
 */
const RUN_MS = Number(process.env.BANK_RUN_MS ?? 60_000);
const SHARD_COUNT = 4;
const ACCOUNT_COUNT = 200;
const START_BALANCE = 1_000;
const WORKERS = 8;
const POINTS: readonly TransactionFaultPoint[] = [
  'after-prepare',
  'before-decision',
  'decision-inserted',
  'after-decision',
  'after-commit-prepared',
];
/** The recovery race check runs this long (in process, no faults). */
const RACE_MS = Number(process.env.BANK_RACE_MS ?? 8_000);
/** How the child's connections are told from the parent's: node-postgres takes PGAPPNAME. */
const CHILD_APP_NAME = 'bank-child';
/**
 * The parent recovers while children run (as a deployment's recovery schedule would), this often, with
 * grace 0: it also meets transactions that are alive between PREPARE and their decision, or just decided.
 */
const IN_RUN_RECOVERY_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const random = (n: number) => Math.floor(Math.random() * n);

/** One line a child wrote. */
type ChildLine =
  | { kind: 'ready' | 'done'; run: number }
  | { kind: 'ok'; id: string }
  | { kind: 'error'; id: string; name: string; outcome?: 'aborted' | 'committed' | 'unknown'; message: string }
  | { kind: 'kill'; point: TransactionFaultPoint; shard: string; run: number; started: number; inFlight: number };

interface ChildEnd {
  killedAt?: TransactionFaultPoint;
  /** In flight when it killed itself: attempted, outcome never reported. */
  inFlight: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

describe('bank invariant under faults (4 shards, a killed application process)', () => {
  let topology: EmbeddedTopology;
  let apps: TestApps;

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: SHARD_COUNT, replicasPerShard: 0 });
    apps = new TestApps(() => topology.shards, [], {
      mikroOrm: { entities: BANK_ENTITIES },
      shardKeys: { BankAccount: 'id', TransferLeg: 'accountId' },
      transactions: { recoverOnStart: false, recoveryIntervalMs: 0 },
    });
    await (await apps.start()).get(ShardingSchema).refresh();
  });

  afterAll(async () => {
    await apps?.closeAll();
    await topology?.stop();
  });

  const shardNames = () => Object.keys(topology.shards);
  const ourPrepared = async (shard: string) =>
    (
      await topology.server(shard).query<{ gid: string }>("select gid from pg_prepared_xacts where gid like 'nms:%'")
    ).map((row) => row.gid);
  const decisions = async (shard: string) => {
    const [{ exists }] = await topology
      .server(shard)
      .query<{ exists: boolean }>("select to_regclass('sharding_transactions') is not null as exists");
    return exists
      ? (await topology.server(shard).query<{ xid: string }>('select xid::text as xid from sharding_transactions')).map(
          (row) => row.xid,
        )
      : [];
  };

  it(
    `${WORKERS} workers, ${RUN_MS / 1000} s of transfers under terminations, restarts and app kills at every protocol step: money is conserved`,
    async () => {
      const setup = await apps.start();
      const sharding = setup.get(ShardingService);

      // --- 200 accounts, created through the library (each on the shard of its id)
      const accounts = Array.from({ length: ACCOUNT_COUNT }, (_, i) => `acct-${String(i).padStart(3, '0')}`);
      for (let i = 0; i < accounts.length; i += 25) {
        await Promise.all(
          accounts.slice(i, i + 25).map((id) =>
            sharding.run({ key: id }, async (em) => {
              em.create(BankAccount, { id, balance: START_BALANCE });
              await em.flush();
            }),
          ),
        );
      }
      const spread: Record<string, number> = {};
      for (const shard of shardNames()) {
        const [{ n }] = await topology
          .server(shard)
          .query<{ n: number }>('select count(*)::int as n from bank_accounts');
        spread[shard] = n;
      }
      expect(Object.values(spread).reduce((a, b) => a + b, 0)).toBe(ACCOUNT_COUNT);
      for (const n of Object.values(spread)) expect(n).toBeGreaterThan(0);

      // --- what happened, counted from the children's lines and the parent's own actions
      const started = Date.now();
      const deadline = started + RUN_MS;
      const reported = new Map<string, ChildLine & { kind: 'ok' | 'error' }>();
      const errorNames = new Map<string, number>();
      const kills = Object.fromEntries(POINTS.map((point) => [point, 0])) as Record<TransactionFaultPoint, number>;
      const notReached = Object.fromEntries(POINTS.map((point) => [point, 0])) as Record<TransactionFaultPoint, number>;
      let interrupted = 0;
      let children = 0;
      const otherEnds: string[] = [];
      const faults = { terminationRounds: 0, backendsTerminated: 0, restarts: 0, faultErrors: 0 };
      const inRunRecovery = { runs: 0, committed: 0, rolledBack: 0, failures: 0 };

      // --- (c) the application process, killed at a protocol step, restarted after each death
      let current: ReturnType<typeof spawn> | undefined;
      const runChild = (run: number, killPoint: TransactionFaultPoint, maxRunMs: number): Promise<ChildEnd> => {
        const child = spawn(
          process.execPath,
          ['--no-warnings', join(process.cwd(), 'test', 'support', 'bank-child.mjs')],
          {
            env: {
              ...process.env,
              NODE_OPTIONS: '', // not jest's --experimental-vm-modules
              PGAPPNAME: CHILD_APP_NAME,
              BANK_CHILD: JSON.stringify({
                shards: topology.shards,
                accounts,
                workers: WORKERS,
                killPoint,
                killAfter: 100 + random(400),
                run,
                maxRunMs,
              }),
            },
            stdio: ['pipe', 'pipe', 'pipe'],
          },
        );
        current = child;
        let stderr = '';
        child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
        child.stdin!.on('error', () => undefined); // it may be gone when told to stop
        const end: ChildEnd = { inFlight: 0, code: null, signal: null, stderr: '' };
        const lines = createInterface({ input: child.stdout! });
        lines.on('line', (text) => {
          if (!text.startsWith('{')) return;
          const line = JSON.parse(text) as ChildLine;
          if (line.kind === 'ok' || line.kind === 'error') reported.set(line.id, line);
          if (line.kind === 'error') {
            const key = `${line.name}${line.outcome ? `/${line.outcome}` : ''}`;
            errorNames.set(key, (errorNames.get(key) ?? 0) + 1);
          }
          if (line.kind === 'kill') {
            end.killedAt = line.point;
            end.inFlight = line.inFlight;
          }
        });
        const closed = new Promise<void>((resolve) => lines.on('close', resolve));
        return new Promise<ChildEnd>((resolve) =>
          child.on('exit', (code, signal) => {
            void closed.then(() => {
              current = undefined;
              resolve({ ...end, code, signal, stderr });
            });
          }),
        );
      };

      const stopChildAtDeadline = setTimeout(() => current?.stdin?.write('stop\n'), RUN_MS);
      const childLoop = (async () => {
        for (let run = 0; Date.now() < deadline - 2_000; run++) {
          children++;
          // in turn, the point killed least so far first (one never reached is armed again)
          const killPoint = POINTS.reduce((least, point) => (kills[point] < kills[least] ? point : least));
          const end = await runChild(run, killPoint, Math.max(1_000, deadline - Date.now()));
          if (end.killedAt && end.signal === 'SIGKILL') {
            kills[end.killedAt]++;
            interrupted += end.inFlight;
          } else if (end.code === 0) {
            notReached[killPoint]++; // the point came too late in this child's run: arm it again
          } else {
            otherEnds.push(`run ${run}: exit ${end.code} ${end.signal}: ${end.stderr.slice(-1_500)}`);
          }
        }
      })();

      // --- (a) backend terminations and (b) primaries stopped and restarted, while children run
      let faultsOver = false;
      const faultLoop = (async () => {
        let nextRestart = Date.now() + 6_000;
        while (!faultsOver) {
          await sleep(1_500 + random(1_500));
          if (faultsOver) break;
          const server = topology.server(shardNames()[random(SHARD_COUNT)]);
          try {
            if (Date.now() >= nextRestart) {
              await server.stop();
              await sleep(2_000 + random(2_000));
              await server.start();
              faults.restarts++;
              nextRestart = Date.now() + 10_000 + random(6_000);
            } else {
              const rows = await server.query<{ done: boolean }>(
                'select pg_terminate_backend(pid) as done from pg_stat_activity ' +
                  'where application_name = $1 and pid <> pg_backend_pid()',
                [CHILD_APP_NAME],
              );
              const terminated = rows.filter((row) => row.done).length;
              if (terminated) faults.terminationRounds++;
              faults.backendsTerminated += terminated;
            }
          } catch {
            faults.faultErrors++;
            await server.start().catch(() => undefined);
          }
        }
      })();

      // --- recovery while the children run: prepared parts a killed child left would hold row locks
      let recovering = true;
      const recoveryLoop = (async () => {
        while (recovering) {
          await sleep(IN_RUN_RECOVERY_MS);
          if (!recovering) break;
          const report = await sharding.recoverTransactions({ graceMs: 0 }).catch(() => undefined);
          inRunRecovery.runs++;
          if (!report) inRunRecovery.failures++;
          inRunRecovery.committed += report?.committed.length ?? 0;
          inRunRecovery.rolledBack += report?.rolledBack.length ?? 0;
        }
      })();

      await childLoop;
      clearTimeout(stopChildAtDeadline);
      faultsOver = true;
      await faultLoop;
      recovering = false;
      await recoveryLoop;
      const runMs = Date.now() - started;

      // --- every server up, then recovery from a fresh application until nothing of ours is prepared
      for (const server of topology.servers) if (!server.running) await server.start();
      const fresh: INestApplicationContext = await apps.start();
      const recoveries: RecoveryReport[] = [];
      const settleDeadline = Date.now() + 60_000;
      for (;;) {
        recoveries.push(await fresh.get(ShardingService).recoverTransactions({ graceMs: 0 }));
        const prepared = (await Promise.all(shardNames().map(ourPrepared))).flat();
        const decided = (await Promise.all(shardNames().map(decisions))).flat();
        if ((prepared.length === 0 && decided.length === 0) || Date.now() > settleDeadline) break;
        await sleep(500);
      }

      // --- the invariant, read from the servers directly
      const balances = new Map<string, number>();
      const legs = new Map<string, { accountId: string; amount: number; shard: string }[]>();
      for (const shard of shardNames()) {
        const server = topology.server(shard);
        for (const row of await server.query<{ id: string; balance: number }>('select id, balance from bank_accounts'))
          balances.set(row.id, row.balance);
        for (const row of await server.query<{ transfer_id: string; account_id: string; amount: number }>(
          'select transfer_id, account_id, amount from transfer_legs',
        )) {
          const list = legs.get(row.transfer_id) ?? [];
          list.push({ accountId: row.account_id, amount: row.amount, shard });
          legs.set(row.transfer_id, list);
        }
      }
      const legSums = new Map<string, number>();
      for (const list of legs.values())
        for (const leg of list) legSums.set(leg.accountId, (legSums.get(leg.accountId) ?? 0) + leg.amount);

      const outcomes = { ok: 0, aborted: 0, committedPending: 0, unknown: 0, otherErrors: 0 };
      for (const line of reported.values()) {
        if (line.kind === 'ok') outcomes.ok++;
        else if (line.outcome === 'aborted') outcomes.aborted++;
        else if (line.outcome === 'committed') outcomes.committedPending++;
        else if (line.outcome === 'unknown') outcomes.unknown++;
        else outcomes.otherErrors++;
      }
      const figures = {
        runMs,
        children,
        kills,
        notReached,
        otherEnds: otherEnds.length,
        attempted: reported.size + interrupted,
        reported: outcomes,
        interruptedByKill: interrupted,
        committedInDatabase: legs.size,
        faults,
        inRunRecovery,
        finalRecoveryRuns: recoveries.length,
        finalRecovery: {
          committed: recoveries.reduce((n, r) => n + r.committed.length, 0),
          rolledBack: recoveries.reduce((n, r) => n + r.rolledBack.length, 0),
          decisionsRemoved: recoveries.reduce((n, r) => n + r.decisionsRemoved, 0),
        },
        errors: Object.fromEntries(errorNames),
      };
      console.log(`bank invariant run: ${JSON.stringify(figures, null, 2)}`);
      if (otherEnds.length) console.log(`children that ended otherwise:\n${otherEnds.join('\n---\n')}`);

      // no money appeared or vanished
      expect(balances.size).toBe(ACCOUNT_COUNT);
      expect([...balances.values()].reduce((a, b) => a + b, 0)).toBe(ACCOUNT_COUNT * START_BALANCE);
      // every transfer is whole (a debit and a credit, on two shards) or absent
      const broken = [...legs].filter(
        ([, list]) =>
          list.length !== 2 ||
          list[0].shard === list[1].shard ||
          list[0].amount + list[1].amount !== 0 ||
          list[0].amount === 0,
      );
      expect(broken).toEqual([]);
      // every balance is its start plus its legs
      const off = accounts.filter((id) => balances.get(id) !== START_BALANCE + (legSums.get(id) ?? 0));
      expect(off).toEqual([]);
      // recovery left nothing of ours behind
      for (const shard of shardNames()) {
        expect(await ourPrepared(shard)).toEqual([]);
        expect(await decisions(shard)).toEqual([]);
      }
      // what the children were told matches what the servers hold
      const told = [...reported.values()];
      const lies = [
        ...told
          .filter((line) => line.kind === 'ok' || (line.kind === 'error' && line.outcome === 'committed'))
          .filter((line) => !legs.has(line.id))
          .map((line) => `${line.id}: told committed, absent`),
        ...told
          .filter((line) => line.kind === 'error' && line.outcome !== 'committed' && line.outcome !== 'unknown')
          .filter((line) => legs.has(line.id))
          .map((line) => `${line.id}: told ${(line as { name: string }).name} (rolled back), present`),
      ];
      expect(lies).toEqual([]);

      // the run meant something
      expect(outcomes.ok).toBeGreaterThan(100);
      expect(POINTS.filter((point) => kills[point] === 0)).toEqual([]);
      expect(faults.terminationRounds).toBeGreaterThan(0);
      expect(faults.restarts).toBeGreaterThan(0);
    },
    RUN_MS + 180_000,
  );

  // Found by the run above: recovery read the decision row, then the deciding transaction's status, so a
  // decision committed in between looked like "committed without a decision" and the prepared part was
  // rolled back while the coordinator's part stayed committed (about 3 broken transfers a second here).
  it('recovery in a tight loop (grace 0) next to live transfers never splits one', async () => {
    const app = await apps.start();
    const sharding = app.get(ShardingService);
    const names = shardNames();
    const shardOf = (id: string) => hashStrategy().shardFor(id, names) as string;
    const accounts = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    await Promise.all(
      accounts.map((id) =>
        sharding.run({ key: id }, async (em) => {
          em.create(BankAccount, { id, balance: START_BALANCE });
          await em.flush();
        }),
      ),
    );
    const end = Date.now() + RACE_MS;
    const committed: string[] = [];
    const aborted: string[] = [];
    let recoveries = 0;
    const worker = async (w: number) => {
      for (let i = 0; Date.now() < end; i++) {
        const from = accounts[random(accounts.length)];
        const to = accounts[random(accounts.length)];
        if (shardOf(from) === shardOf(to)) continue;
        const id = `race-w${w}-${i}`;
        const legs = [
          [from, -1],
          [to, 1],
        ].sort((a, b) => (a[0] < b[0] ? -1 : 1)) as [string, number][];
        await sharding
          .transaction(async () => {
            for (const [account, amount] of legs)
              await sharding.run({ key: account }, async (em) => {
                await em.execute('update bank_accounts set balance = balance + ? where id = ?', [amount, account]);
                em.create(TransferLeg, { transferId: id, accountId: account, amount });
                await em.flush();
              });
          })
          .then(
            () => committed.push(id),
            (error: unknown) => {
              // e.g. its COMMIT PREPARED met recovery's ("is busy"): committed, the rest left to recovery
              if (!(error instanceof CrossShardTransactionError)) throw error;
              if (error.outcome === 'committed') committed.push(id);
              if (error.outcome === 'aborted') aborted.push(id);
            },
          );
      }
    };
    const recoverer = async () => {
      for (; Date.now() < end; recoveries++) await sharding.recoverTransactions({ graceMs: 0 });
    };
    await Promise.all([...Array.from({ length: WORKERS }, (_, w) => worker(w)), recoverer()]);
    await sharding.recoverTransactions({ graceMs: 0 });

    const legs = new Map<string, number>();
    let total = 0;
    for (const shard of names) {
      const server = topology.server(shard);
      for (const row of await server.query<{ transfer_id: string }>(
        "select transfer_id from transfer_legs where transfer_id like 'race-%'",
      ))
        legs.set(row.transfer_id, (legs.get(row.transfer_id) ?? 0) + 1);
      const [{ sum }] = await server.query<{ sum: number }>(
        "select coalesce(sum(balance), 0)::int as sum from bank_accounts where id like 'race-%'",
      );
      total += sum;
      expect(await ourPrepared(shard)).toEqual([]);
    }
    console.log(`recovery race: ${committed.length} transfers committed next to ${recoveries} recovery runs`);
    expect(committed.length).toBeGreaterThan(0);
    expect(recoveries).toBeGreaterThan(0);
    expect([...legs].filter(([, n]) => n !== 2)).toEqual([]);
    expect(committed.filter((id) => legs.get(id) !== 2)).toEqual([]);
    expect(aborted.filter((id) => legs.has(id))).toEqual([]);
    expect(total).toBe(accounts.length * START_BALANCE);
  }, 120_000);
});
