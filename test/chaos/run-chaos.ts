import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { hashStrategy, NodeRegistry, ShardingSchema, ShardingService, waitForReplicas } from '../../lib/index.js';
import { startEmbeddedTopology, type EmbeddedServer, type EmbeddedTopology } from '../../lib/testing/index.js';
import { ChaosAppModule } from './chaos-app.js';
import { checkHistory, formatReport, type CheckReport } from './checker.js';
import type { FinalEvent, HistoryEvent } from './history.js';
import { HistoryLog } from './history-log.js';
import { Nemesis, sleep, until } from './nemesis.js';
import { Random } from './random.js';
import { runWorkload } from './workload.js';

export interface ChaosOptions {
  seed: number;
  /** Seconds of workload and faults. */
  durationSeconds: number;
  /** Concurrent sessions. @default 16 */
  sessions?: number;
  /** Keys of the list-append workload, spread over both shards by the hash strategy. @default 40 */
  keys?: number;
  /** Write the history here as JSON lines while the run goes. */
  historyPath?: string;
  /** Progress lines (topology up, each fault...). */
  onProgress?: (line: string) => void;
  /** Aborted on Ctrl-C: the run stops at once, heals, and stops every server. */
  signal?: AbortSignal;
}

export interface ChaosResult {
  seed: number;
  /** Undefined when the run was interrupted before its final state. */
  report?: CheckReport;
  /** `formatReport` output, plus the runner's own findings. */
  output: string;
  events: readonly HistoryEvent[];
  /** What the library did wrong in checks the history cannot express (hostile values, promotion). */
  findings: string[];
  /** What went wrong in the runner (a server that would not restart, a replica that never caught up). */
  problems: string[];
  /** What the servers said about anomalies of the final state (e.g. what a leaked connection is doing). */
  notes: string[];
  replayCommand: string;
  interrupted: boolean;
}

/** How long after the run the replicas may take to catch up, and the pools to settle. */
const SETTLE_MS = 30_000;
const APP_CLOSE_MS = 15_000;

/**
 * A fault run: an embedded 2 shards × 2 replicas topology, the chaos app on 127.0.0.1, sessions
 * and nemesis for the duration, then heal, let replicas catch up, record the final state, check.
 * The servers are always stopped at the end, also on errors and interruption.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const progress = options.onProgress ?? (() => undefined);
  const sessions = options.sessions ?? 16;
  const replayCommand =
    `npm run chaos -- --seed ${options.seed} --duration ${options.durationSeconds}` +
    (sessions === 16 ? '' : ` --sessions ${sessions}`);
  const cancel = options.signal ?? new AbortController().signal;
  const log = new HistoryLog(options.historyPath, (event) => {
    if (event.type !== 'fault') return;
    const detail = event.detail ? ` (${event.detail})` : '';
    progress(`${(event.time / 1000).toFixed(1)} s  ${event.fault} ${event.nodes.join(', ')}${detail}`);
  });
  const findings: string[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  let topology: EmbeddedTopology | undefined;
  let app: INestApplication | undefined;
  let finished: boolean;
  // the app runs in this process: an error nobody handles (e.g. a pg client's 'error' event without a
  // listener) would crash a real app; here it is a finding, and the run goes on to its report
  const uncaught = (error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    findings.push(`uncaught in the app's process (a crash): ${text.split('\n').slice(0, 4).join(' | ')}`);
  };
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', uncaught);
  try {
    topology = await startEmbeddedTopology({
      shards: 2,
      replicasPerShard: 2,
      settings: {
        // a SIGKILLed primary must not lose commits it acknowledged (the embedded default turns it
        // off for speed); fsync stays off: the machine itself never crashes
        synchronous_commit: 'on',
        // a replica reconnects to a restarted primary within a moment (default 5 s)
        wal_retrieve_retry_interval: '200ms',
      },
    });
    progress(`topology up: ${topology.servers.map((s) => `${s.name}:${s.port}`).join(' ')}`);
    app = await NestFactory.create(ChaosAppModule.forShards(topology.shards), { logger: ['error', 'warn'] });
    await app.listen(0, '127.0.0.1');
    // Node's HTTP server resets a request still in flight on a keep-alive connection opened more than
    // requestTimeout (300 s) ago: the workload's connections live the whole run
    (app.getHttpServer() as { requestTimeout: number }).requestTimeout = 0;
    finished = await runOnApp(app, topology, {
      ...options,
      sessions,
      cancel,
      progress,
      log,
      findings,
      problems,
      notes,
    });
  } finally {
    await closeApp(app, findings);
    // a frozen server would ignore its stop signal: stop() wakes it, and stops the rest
    await topology?.stop().catch((error: Error) => problems.push(`topology stop: ${error.message}`));
    await log.close();
    process.off('uncaughtException', uncaught);
    process.off('unhandledRejection', uncaught);
  }
  const report = finished ? checkHistory(log.events) : undefined;
  const output = [
    report
      ? formatReport(report, replayCommand)
      : `Interrupted: no final state, nothing checked. Replay: ${replayCommand}`,
    ...section('Runner findings (the library)', findings),
    ...section('Runner problems (not the library)', problems),
    ...section('Runner notes', notes),
  ].join('\n');
  return {
    seed: options.seed,
    report,
    output,
    events: log.events,
    findings,
    problems,
    notes,
    replayCommand,
    interrupted: !finished,
  };
}

interface RunContext extends ChaosOptions {
  sessions: number;
  cancel: AbortSignal;
  progress: (line: string) => void;
  log: HistoryLog;
  findings: string[];
  problems: string[];
  notes: string[];
}

/** Schema, workload and nemesis for the duration, then the final state; false when interrupted. */
async function runOnApp(app: INestApplication, topology: EmbeddedTopology, run: RunContext): Promise<boolean> {
  const { cancel, log, progress, sessions } = run;
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const registry = app.get(NodeRegistry);
  await app.get(ShardingSchema).refresh();
  await waitForReplicas(registry);
  const keys = Array.from({ length: run.keys ?? 40 }, (_, i) => `k${String(i).padStart(2, '0')}`);
  const keysOfShard = await keysByShard(app.get(ShardingService), keys);
  const keyOfShard = Object.fromEntries(Object.entries(keysOfShard).map(([shard, [first]]) => [shard, first]));
  const shardOf = sameShardsAsApp(keysOfShard);
  progress(`app on ${url}; seed ${run.seed}, ${run.durationSeconds} s, ${sessions} sessions, ${keys.length} keys`);

  const random = new Random(run.seed);
  const finish = new AbortController();
  const stop = () => finish.abort();
  cancel.addEventListener('abort', stop, { once: true });
  const timer = setTimeout(stop, run.durationSeconds * 1_000);
  const nemesis = new Nemesis({
    topology,
    registry,
    url,
    keyOfShard,
    random: random.fork(0),
    log,
    durationMs: run.durationSeconds * 1_000,
    finish: finish.signal,
    cancel,
  });
  // either side failing ends the other: the history stays whole and the servers get healed
  const [workload, faults] = await Promise.allSettled([
    runWorkload({ url, sessions, keys, shardOf, random, log, finish: finish.signal, cancel }).finally(stop),
    nemesis.run().finally(stop),
  ]);
  clearTimeout(timer);
  cancel.removeEventListener('abort', stop);
  run.findings.push(...nemesis.findings);
  run.problems.push(...nemesis.problems);
  for (const settled of [workload, faults]) {
    if (settled.status === 'rejected') run.problems.push(`runner: ${String(settled.reason)}`);
  }
  if (workload.status === 'fulfilled') {
    const { operations, retiredSessions } = workload.value;
    progress(
      `workload done: ${operations} operations, ${retiredSessions} sessions retired after an unanswered request`,
    );
  }
  if (cancel.aborted) return false;
  progress('healed; recovering prepared transactions, waiting for replicas to catch up and pools to settle');
  const used = workload.status === 'fulfilled' ? workload.value.keys : keys;
  const prepared = await closingRecovery(app.get(ShardingService), nemesis, run);
  const final = await finalState(registry, nemesis, topology, await keysByShard(app.get(ShardingService), used), run);
  log.record({ ...final, prepared });
  return true;
}

/** How long the closing recovery may take to leave no prepared part of ours (a part held by a live request included). */
const RECOVERY_MS = 20_000;

/**
 * The run's closing recovery: `recoverTransactions({ graceMs: 0 })` until a run (not one of the app's
 * scheduled ones, which hold the lock at times) resolved everything, so the final lists show every
 * cross-shard transaction ended; then each acting primary's prepared transactions of ours, read on the
 * server itself (the checker reports any as `prepared-left`).
 */
async function closingRecovery(
  sharding: ShardingService,
  nemesis: Nemesis,
  { progress, problems }: Pick<RunContext, 'progress' | 'problems'>,
): Promise<Record<string, string[]>> {
  const deadline = Date.now() + RECOVERY_MS;
  const totals = { runs: 0, committed: 0, rolledBack: 0 };
  let last: string | undefined;
  for (;;) {
    const report = await sharding.recoverTransactions({ graceMs: 0 });
    if (report.ran) totals.runs++;
    totals.committed += report.committed.length;
    totals.rolledBack += report.rolledBack.length;
    const left = Object.values(report.unresolved).reduce((sum, n) => sum + n, 0);
    const done = report.ran && !report.failed.length && left === 0 && report.waiting.length === 0;
    last = `ran ${report.ran}, ${left} unresolved, ${report.waiting.length} waiting, failed: ${report.failed.map((f) => `${f.shard} ${f.gid ?? ''} ${f.error}`).join('; ') || 'none'}`;
    if (done || Date.now() > deadline) break;
    await sleep(250);
  }
  progress(
    `closing recovery: ${totals.runs} runs, ${totals.committed} parts committed, ${totals.rolledBack} rolled back (last: ${last})`,
  );
  const prepared: Record<string, string[]> = {};
  for (const shard of sharding.shards) {
    const primary = nemesis.actingPrimary(shard);
    try {
      const rows = await primary.query<{ gid: string }>("select gid from pg_prepared_xacts where gid like 'nms:%'");
      prepared[primary.name] = rows.map((row) => row.gid);
    } catch (error) {
      problems.push(`${primary.name}: could not list prepared transactions: ${(error as Error).message}`);
    }
  }
  return prepared;
}

/**
 * The shard of a key for the workload (which must pick keys on two shards for a pair, synchronously):
 * the default hash strategy, the chaos app's; checked against the app's own answer for the first keys.
 */
function sameShardsAsApp(keysOfShard: Readonly<Record<string, readonly string[]>>): (key: string) => string {
  const shards = Object.keys(keysOfShard);
  const strategy = hashStrategy();
  const shardOf = (key: string) => strategy.shardFor(key, shards) as string;
  for (const [shard, keys] of Object.entries(keysOfShard)) {
    const wrong = keys.filter((key) => shardOf(key) !== shard);
    if (wrong.length) throw new Error(`the hash strategy puts ${wrong.join(', ')} elsewhere than the app (${shard})`);
  }
  return shardOf;
}

/** The last event: every list on its shard's acting primary and on each following replica, pools settled. */
async function finalState(
  registry: NodeRegistry,
  nemesis: Nemesis,
  topology: EmbeddedTopology,
  keysOfShard: Readonly<Record<string, readonly string[]>>,
  { problems, notes }: Pick<RunContext, 'problems' | 'notes'>,
): Promise<Omit<FinalEvent, 'time'>> {
  const deadline = Date.now() + SETTLE_MS;
  const lists: Record<string, number[]> = {};
  const replicaLists: Record<string, Record<string, number[]>> = {};
  for (const shard of registry.shardNames) {
    const primary = nemesis.actingPrimary(shard);
    const [{ lsn }] = await primary.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
    const keys = keysOfShard[shard];
    Object.assign(lists, await readLists(primary, keys));
    for (const replica of nemesis.followers(shard)) {
      const caughtUp = await until(async () => {
        const [row] = await replica.query<{ done: boolean | null }>(
          'select pg_last_wal_replay_lsn() >= $1::pg_lsn as done',
          [lsn],
        );
        return row.done === true;
      }, deadline - Date.now());
      if (!caughtUp) problems.push(`${replica.name} did not replay ${primary.name}'s WAL up to ${lsn} in time`);
      replicaLists[replica.name] = await readLists(replica, keys);
    }
  }
  const pools = await settledPools(registry, topology, deadline);
  for (const [name, pool] of Object.entries(pools)) {
    const server = topology.servers.find((s) => s.name === name);
    if (pool.idle === pool.total || !server?.running) continue;
    notes.push(`${name}: the app's busy connections on the server: ${await busyBackends(server)}`);
  }
  return {
    type: 'final',
    lists,
    replicaLists,
    orphanedReplicas: nemesis.orphans.map((s) => s.name),
    pools,
  };
}

/** What the app's connections that are not idle are doing on `server` (state, for how long, last statement). */
async function busyBackends(server: EmbeddedServer): Promise<string> {
  const rows = await server
    .query<{ state: string; seconds: number; query: string }>(
      `select state, extract(epoch from now() - state_change)::int as seconds, left(query, 100) as query
         from pg_stat_activity
        where backend_type = 'client backend' and datname = current_database() and pid <> pg_backend_pid()
          and state <> 'idle' and application_name not like '%health%'`,
    )
    .catch((error: Error) => [{ state: `unknown (${error.message})`, seconds: 0, query: '' }]);
  return rows.length ? rows.map((r) => `${r.state} for ${r.seconds} s after "${r.query}"`).join('; ') : 'none';
}

/** The lists of `keys` (one shard's) as one server holds them (a key without a row: an empty list). */
async function readLists(server: EmbeddedServer, keys: readonly string[]): Promise<Record<string, number[]>> {
  const rows = await server.query<{ key: string; vals: number[] }>('select key, vals from key_list');
  const found = new Map(rows.map((row) => [row.key, row.vals]));
  return Object.fromEntries(keys.map((key) => [key, found.get(key) ?? []]));
}

/**
 * Each node's pool once the app has settled: the monitor sees every live node up, then the pools are
 * sampled until none has a connection checked out or a caller waiting (a health check in flight is
 * brief), or the deadline passes (the last sample then shows the leak).
 */
async function settledPools(
  registry: NodeRegistry,
  topology: EmbeddedTopology,
  deadline: number,
): Promise<FinalEvent['pools']> {
  const live = new Set(topology.servers.filter((s) => s.running).map((s) => s.name.replace('-', '/')));
  await until(
    () => registry.health().every((n) => !live.has(n.id) || n.status === 'up'),
    Math.min(10_000, Math.max(0, deadline - Date.now())),
  );
  const sample = async () => {
    const pools: FinalEvent['pools'] = {};
    for (const node of registry.nodes) {
      const pool = await node.orm.em.getConnection().getNativeClient();
      pools[node.id.replace('/', '-')] = { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
    }
    return pools;
  };
  const settled = (p: FinalEvent['pools']) => Object.values(p).every((c) => c.idle === c.total && c.waiting === 0);
  const stopAt = Math.min(deadline, Date.now() + 5_000);
  let pools = await sample();
  while (!settled(pools) && Date.now() < stopAt) {
    await sleep(20);
    pools = await sample();
  }
  return pools;
}

/** Each shard's keys, by the app's own strategy; every shard must hold some. */
async function keysByShard(sharding: ShardingService, keys: readonly string[]): Promise<Record<string, string[]>> {
  const byShard: Record<string, string[]> = Object.fromEntries(sharding.shards.map((shard) => [shard, []]));
  for (const key of keys) byShard[await sharding.shardFor(key)].push(key);
  const empty = sharding.shards.filter((shard) => !byShard[shard].length);
  if (empty.length) throw new Error(`no key of the workload maps to shard ${empty.join(', ')}: use more keys`);
  return byShard;
}

/** Closes the app, bounded: a close that hangs is a finding (the library's), not a reason to leave servers running. */
async function closeApp(app: INestApplication | undefined, findings: string[]): Promise<void> {
  if (!app) return;
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    app.close().then(
      () => true,
      (error: Error) => {
        findings.push(`app.close() failed: ${error.message}`);
        return true;
      },
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), APP_CLOSE_MS))),
  ]);
  clearTimeout(timer);
  if (!closed) findings.push(`app.close() did not finish within ${APP_CLOSE_MS} ms`);
}

function section(title: string, items: readonly string[]): string[] {
  return items.length ? [`${title}: ${items.length}`, ...items.map((item) => `  - ${item}`)] : [];
}
