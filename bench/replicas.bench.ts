import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { defineEntity, MikroORM, p, type LogContext, type Logger } from '@mikro-orm/postgresql';
import {
  NodeRegistry,
  ReadReplica,
  ShardBy,
  ShardedEntityManager,
  ShardingModule,
  ShardingSchema,
  ShardingService,
  waitForReplicas,
  type ReadReplicaOptions,
  type ShardsConfig,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { median } from './stats.js';

const ReplicaItemSchema = defineEntity({
  name: 'ReplicaItem',
  tableName: 'bench_replica_items',
  properties: { id: p.string().primary(), name: p.string(), qty: p.integer() },
});
class ReplicaItem extends ReplicaItemSchema.class {}
ReplicaItemSchema.setClass(ReplicaItem);

@Injectable()
class ItemsService {
  constructor(private readonly em: ShardedEntityManager) {}

  @ShardBy('id')
  @ReadReplica()
  async findOne(id: string) {
    return this.em.findOne(ReplicaItem, id);
  }

  /** Always asks a server, even when this context's identity map already holds the row. */
  @ShardBy('id')
  @ReadReplica()
  async findFresh(id: string) {
    return this.em.findOne(ReplicaItem, id, { refresh: true });
  }

  @ShardBy('id')
  async create(id: string) {
    this.em.create(ReplicaItem, { id, name: `Item ${id}`, qty: 1 });
    await this.em.flush();
  }
}

const ROWS = 10_000;
const CONCURRENCY = 32;
const SECONDS = 3;
const RUNS = 5;
const CYCLES = 1_500;
const WRITES = 1_500;
const SYNC_CYCLES = 1_000;
const WARM_UP = 100;

/**
 * Read replicas: read throughput with 0, 1 and 2 replicas per shard; the cost of read-your-writes
 * (round trips per write) against MikroORM's own `replicas` option on the same servers.
 */
export async function replicasBench(): Promise<string> {
  const topology = await startEmbeddedTopology({ shards: 1, replicasPerShard: 2 });
  const contexts: INestApplicationContext[] = [];
  try {
    // --- read throughput: three applications on the same three servers -------------------------
    const replicaCounts = [0, 1, 2];
    for (const count of replicaCounts) contexts.push(await createContext(shardsWith(topology, count), {}));
    const full = contexts[2];
    await full.get(ShardingSchema).refresh();
    const registry = full.get(NodeRegistry);
    const ids = Array.from({ length: ROWS }, (_, i) => `item-${i}`);
    const seeding = registry.fork('s0');
    for (const id of ids) seeding.create(ReplicaItem, { id, name: `Item ${id}`, qty: 1 });
    await seeding.flush();
    // no autovacuum of the fresh rows (and its replay) in the middle of a run
    await registry.fork('s0').execute('vacuum analyze bench_replica_items');
    await waitForReplicas(registry);

    const throughput = await readThroughput(contexts, ids);
    await Promise.all(contexts.splice(0).map((context) => context.close()));

    // --- read-your-writes: ours (true / false) and plain MikroORM, same servers ------------------
    const fast = await withVariants(topology, 'off', async (variants) => ({
      cycle: await runPhase(variants, 'cycle', CYCLES),
      write: await runPhase(variants, 'write', WRITES),
    }));
    // the same cycles with commits that wait for their WAL flush (as on a production primary); fsync stays off.
    // A database setting outranks the server's command-line one, for sessions opened from now on.
    const { dbName } = topology.server('s0', 'primary').connection;
    await topology.server('s0', 'primary').query(`alter database "${dbName}" set synchronous_commit = on`);
    const syncCycle = await withVariants(topology, 'on', (variants) => runPhase(variants, 'cycle-sync', SYNC_CYCLES));

    return [
      throughputSection(throughput, replicaCounts),
      readYourWritesSection(fast.cycle, syncCycle),
      writeOnlySection(fast.write),
    ].join('\n');
  } finally {
    await Promise.all(contexts.map((context) => context.close()));
    await topology.stop();
  }
}

/** The topology's shard with its primary and the first `replicas` of its replicas. */
function shardsWith(topology: EmbeddedTopology, replicas: number): ShardsConfig {
  return {
    s0: {
      primary: topology.server('s0', 'primary').connection,
      replicas: Array.from({ length: replicas }, (_, i) => topology.server('s0', 'replica', i).connection),
    },
  };
}

async function createContext(
  shards: ShardsConfig,
  readReplicas: ReadReplicaOptions,
  log?: StatementLog,
): Promise<INestApplicationContext> {
  @Module({
    imports: [
      ShardingModule.forRoot({
        shards,
        mikroOrm: { entities: [ReplicaItem], ...(log ? { loggerFactory: log.factory } : {}) },
        readReplicas,
      }),
    ],
    providers: [ItemsService],
  })
  class ReplicasBenchModule {}
  const context = await NestFactory.createApplicationContext(ReplicasBenchModule, { logger: false });
  log?.nameNodes(context.get(NodeRegistry));
  return context;
}

// ------------------------------------------------------------------------------------------------
// Read throughput

interface ThroughputResult {
  runs: number[][]; // per variant: reads/s of each run
  cpu: number[][]; // per variant: this process's CPU time / wall time of each run
  spread: Map<string, number>[]; // per variant: node → statements counted during the measured runs
}

async function readThroughput(contexts: INestApplicationContext[], ids: readonly string[]): Promise<ThroughputResult> {
  const services = contexts.map((context) => context.get(ItemsService));
  const registries = contexts.map((context) => context.get(NodeRegistry));
  const result: ThroughputResult = {
    runs: contexts.map(() => []),
    cpu: contexts.map(() => []),
    spread: contexts.map(() => new Map()),
  };
  for (const service of services) await closedLoop((id) => service.findOne(id), ids, 2); // warm up
  for (let run = 0; run < RUNS; run++) {
    // a different variant goes first in each run, so none always follows the same one
    for (const v of contexts.map((_, i) => (i + run) % contexts.length)) {
      const before = queriesByNode(registries[v]);
      const { rate, cpu } = await closedLoop((id) => services[v].findOne(id), ids, SECONDS);
      for (const [node, after] of queriesByNode(registries[v])) {
        result.spread[v].set(node, (result.spread[v].get(node) ?? 0) + after - (before.get(node) ?? 0));
      }
      result.runs[v].push(rate);
      result.cpu[v].push(cpu);
    }
  }
  return result;
}

function queriesByNode(registry: NodeRegistry): Map<string, number> {
  return new Map(registry.health().map((node) => [nodeName(node.id), node.counters.queries]));
}

/** `CONCURRENCY` calls always in flight for `seconds`: reads per second and this process's CPU share. */
async function closedLoop(
  read: (id: string) => Promise<unknown>,
  ids: readonly string[],
  seconds: number,
): Promise<{ rate: number; cpu: number }> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let missing = 0;
  const lane = async (offset: number) => {
    for (let i = offset; performance.now() < deadline; i += CONCURRENCY) {
      if (!(await read(ids[i % ids.length]))) missing++;
      done++;
    }
  };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, c) => lane(c)));
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  // every row was replicated before the runs: a miss is a routing bug, not a result
  if (missing) throw new Error(`${missing} of ${done} seeded rows were not found during the read benchmark`);
  return { rate: done / (elapsed / 1000), cpu: (cpu.user + cpu.system) / 1000 / elapsed };
}

function throughputSection(result: ThroughputResult, replicaCounts: readonly number[]): string {
  const base = median(result.runs[0]);
  const share = (spread: Map<string, number>) => {
    const total = [...spread.values()].reduce((a, b) => a + b, 0);
    return [...spread].map(([node, n]) => `${node} ${((100 * n) / total).toFixed(1)} %`).join(', ');
  };
  return [
    '### Read replicas: read throughput with 0, 1 and 2 replicas per shard',
    '',
    `One shard, primary + 2 streaming replicas (embedded, fast mode), ${ROWS} rows. Three \`ShardingModule\` application ` +
      'contexts on the same servers, configured with the primary and 0, 1 or 2 of those replicas. Each call is a ' +
      "`@ShardBy('id') @ReadReplica()` primary-key `findOne` that opens its own context, so the round-robin balancer " +
      `picks a node per call (with 0 replicas the reads go to the primary). Closed loop from this process: ${CONCURRENCY} ` +
      `calls in flight for ${SECONDS} s per run, ${RUNS} runs per variant interleaved; median reads/s. Every node has its ` +
      'own pool (pg default: at most 10 connections), so each replica also adds 10 connections.',
    '',
    '**Not a scale-out measurement.** This process and all three PostgreSQL servers share the same 2 cores: a replica ' +
      'brings no CPU of its own here. The table shows what balancing over replicas costs and how the reads spread, not ' +
      'what a replica on its own machine adds. The CPU column is this process’s CPU time over wall time: near 100 % ' +
      'the single Node.js process is the limit, whatever the servers could do.',
    '',
    '| replicas per shard | median reads/s | ratio to 0 replicas | runs (reads/s) | reads per node (`counters.queries`) | this process’s CPU (median) |',
    '|---|---|---|---|---|---|',
    ...replicaCounts.map((count, v) => {
      const rate = median(result.runs[v]);
      return (
        `| ${count} | ${rate.toFixed(0)} | ${(rate / base).toFixed(3)} | ${result.runs[v].map((r) => r.toFixed(0)).join(', ')} | ` +
        `${share(result.spread[v])} | ${(100 * median(result.cpu[v])).toFixed(0)} % |`
      );
    }),
    '',
  ].join('\n');
}

// ------------------------------------------------------------------------------------------------
// Read-your-writes

const VARIANTS = ['ryw', 'noRyw', 'plain'] as const;
type Variant = (typeof VARIANTS)[number];
const LABELS: Record<Variant, string> = {
  ryw: 'ours, `readYourWrites: true` (default)',
  noRyw: 'ours, `readYourWrites: false`',
  plain: 'plain MikroORM, `replicas` + `preferReadReplicas: true`',
};

interface PhaseResult {
  count: number;
  micros: Record<Variant, number[]>;
  statements: Record<Variant, Counts>;
  /** `counters.queries` summed over the nodes (ours only). */
  counterQueries: Partial<Record<Variant, number>>;
  fallbacks: Partial<Record<Variant, number>>;
  stale: Record<Variant, number>;
}

/** The three variants on primary + 2 replicas, each with its own statement log. */
interface Variants {
  ryw: INestApplicationContext;
  noRyw: INestApplicationContext;
  plain: MikroORM;
  logs: Record<Variant, StatementLog>;
}

/** Opens the three variants (fresh connections), checks the primary's `synchronous_commit`, runs `fn`, closes them. */
async function withVariants<T>(
  topology: EmbeddedTopology,
  synchronousCommit: 'on' | 'off',
  fn: (variants: Variants) => Promise<T>,
): Promise<T> {
  const logs = { ryw: new StatementLog(), noRyw: new StatementLog(), plain: new StatementLog() };
  const opened: INestApplicationContext[] = [];
  let plain: MikroORM | undefined;
  try {
    const ryw = await createContext(shardsWith(topology, 2), { readYourWrites: true }, logs.ryw);
    opened.push(ryw);
    const noRyw = await createContext(shardsWith(topology, 2), { readYourWrites: false }, logs.noRyw);
    opened.push(noRyw);
    plain = await MikroORM.init({
      entities: [ReplicaItem],
      ...topology.server('s0', 'primary').connection,
      replicas: [0, 1].map((i) => ({ ...topology.server('s0', 'replica', i).connection, name: `replica-${i + 1}` })),
      preferReadReplicas: true,
      loggerFactory: logs.plain.factory,
    });
    const [{ setting }] = await plain.em
      .fork()
      .execute<{ setting: string }[]>("select current_setting('synchronous_commit') as setting", [], 'all', undefined);
    if (setting !== synchronousCommit) {
      throw new Error(`expected synchronous_commit = ${synchronousCommit} on the primary, got ${setting}`);
    }
    return await fn({ ryw, noRyw, plain, logs });
  } finally {
    await Promise.all(opened.map((context) => context.close()));
    await plain?.close(true);
  }
}

/**
 * `count` write-then-read cycles (`cycle`) or writes alone (`write`) per variant, after a warm-up; the
 * statements each variant sent and what ours' counters saw over them.
 */
async function runPhase(variants: Variants, name: string, count: number): Promise<PhaseResult> {
  const { ryw, noRyw, plain, logs } = variants;
  const ours = { ryw, noRyw };
  const service = (v: 'ryw' | 'noRyw') => ours[v].get(ItemsService);
  const sharding = (v: 'ryw' | 'noRyw') => ours[v].get(ShardingService);
  const plainCreate = async (id: string) => {
    const em = plain.em.fork();
    em.create(ReplicaItem, { id, name: `Item ${id}`, qty: 1 });
    await em.flush();
    return em;
  };
  const runs: Record<Variant, (id: string) => Promise<unknown>> = name.startsWith('cycle')
    ? {
        // insert, then read the row back in the same context
        ryw: (id) =>
          sharding('ryw').withContext(async () => (await service('ryw').create(id), service('ryw').findFresh(id))),
        noRyw: (id) =>
          sharding('noRyw').withContext(
            async () => (await service('noRyw').create(id), service('noRyw').findFresh(id)),
          ),
        plain: async (id) => (await plainCreate(id)).findOne(ReplicaItem, id, { refresh: true }),
      }
    : {
        ryw: (id) => service('ryw').create(id),
        noRyw: (id) => service('noRyw').create(id),
        plain: (id) => plainCreate(id),
      };
  const registries = { ryw: ryw.get(NodeRegistry), noRyw: noRyw.get(NodeRegistry) };
  const random = xorshift(0x5eed);

  for (const v of VARIANTS) for (let i = 0; i < WARM_UP; i++) await runs[v](`${v}-${name}-warm-${i}`);
  const logBefore = Object.fromEntries(VARIANTS.map((v) => [v, logs[v].snapshot()])) as Record<Variant, Counts>;
  const countersBefore = { ryw: totals(registries.ryw), noRyw: totals(registries.noRyw) };
  const result: PhaseResult = {
    count,
    micros: { ryw: [], noRyw: [], plain: [] },
    statements: {} as Record<Variant, Counts>,
    counterQueries: {},
    fallbacks: {},
    stale: { ryw: 0, noRyw: 0, plain: 0 },
  };
  // call by call, the variants take turns in a fresh random order: noise and replication lag fall on all alike
  for (let i = 0; i < count; i++) {
    for (const v of shuffle(VARIANTS, random)) {
      const started = performance.now();
      const found = await runs[v](`${v}-${name}-${i}`);
      result.micros[v].push((performance.now() - started) * 1000);
      if (found === null) result.stale[v]++;
    }
  }
  for (const v of VARIANTS) result.statements[v] = diff(logs[v].snapshot(), logBefore[v]);
  for (const v of ['ryw', 'noRyw'] as const) {
    const after = totals(registries[v]);
    result.counterQueries[v] = after.queries - countersBefore[v].queries;
    result.fallbacks[v] = after.fallbacks - countersBefore[v].fallbacks;
  }
  return result;
}

function totals(registry: NodeRegistry): { queries: number; fallbacks: number } {
  const sum = { queries: 0, fallbacks: 0 };
  for (const { counters } of registry.health()) {
    sum.queries += counters.queries;
    sum.fallbacks += counters.fallbacks;
  }
  return sum;
}

function readYourWritesSection(fast: PhaseResult, sync: PhaseResult): string {
  const rows = (setting: string, phase: PhaseResult) => {
    const base = median(phase.micros.plain);
    const per = (n: number) => (n / phase.count).toFixed(2);
    return VARIANTS.map((v) => {
      const s = phase.statements[v];
      const m = median(phase.micros[v]);
      const reads = sumKind(s, 'read', () => true);
      const onReplicas = sumKind(s, 'read', (node) => node !== 'primary');
      return (
        `| ${setting} | ${LABELS[v]} | ${m.toFixed(0)} | ${(m / base).toFixed(3)} | ${phase.stale[v]} / ${phase.count} | ` +
        `${per(sumNodes(s, (node) => node === 'primary'))} + ${per(sumNodes(s, (node) => node !== 'primary'))} = ${per(sumNodes(s, () => true))} | ` +
        `${breakdown(s, KINDS, per)} | ${((100 * onReplicas) / Math.max(1, reads)).toFixed(1)} % | ` +
        `${v === 'plain' ? '—' : `${per(phase.counterQueries[v] ?? 0)} (fallbacks ${phase.fallbacks[v]})`} |`
      );
    });
  };
  const servedByReplica = (phase: PhaseResult) =>
    (100 * sumKind(phase.statements.ryw, 'read', (node) => node !== 'primary')) /
    Math.max(
      1,
      sumKind(phase.statements.ryw, 'read', () => true),
    );
  return [
    '### Read replicas: read-your-writes, one write then a read of it in the same context',
    '',
    'Primary + 2 replicas, the same servers for all three variants. A cycle inserts one row (`em.flush()`: a transaction ' +
      "on the primary) and reads it back by primary key in the same context: ours through `@ShardBy('id') @ReadReplica()` " +
      'inside one `withContext()`, plain MikroORM with the same forked `em`. The read is `findOne(..., { refresh: true })` ' +
      'so that it always reaches a server (a by-id read of an entity just flushed is otherwise answered from the identity ' +
      `map, in both libraries); it stands for any query after a write. ${fast.count} cycles per variant (${sync.count} in the ` +
      `second setting) after ${WARM_UP} of warm-up; cycle by cycle the variants take turns in a random order. Median wall ` +
      'time per cycle, sequential; the ratio is to plain MikroORM in the same setting.',
    '',
    'Statements are counted by a MikroORM logger (`loggerFactory`) on every connection of every node, each one a round ' +
      'trip; the health monitor’s background checks are left out. A stale read is a read that returned `null`: the ' +
      'replica it went to had not replayed the insert yet. `counters.queries` and `counters.fallbacks` are what ' +
      '`NodeRegistry.health()` counted on all nodes over the same cycles.',
    '',
    'First setting: the embedded default (fast mode, `synchronous_commit = off`), where a commit’s WAL is sent to the ' +
      'replicas only once the WAL writer has flushed it (every `wal_writer_delay`, 200 ms by default). Second setting: ' +
      '`alter database ... set synchronous_commit = on` on the primary (fsync still off), so a commit returns once its WAL ' +
      'is flushed and the replicas can receive it at once, as with PostgreSQL’s default settings.',
    '',
    '| primary’s `synchronous_commit` | variant | median µs per cycle | ratio to plain MikroORM | stale reads | statements per cycle: primary + replicas = total | per cycle: begin · insert · commit · WAL position read · replica replay check · row read | row reads served by a replica | `counters.queries` per cycle |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows('off (fast mode)', fast),
    ...rows('on', sync),
    '',
    `With \`readYourWrites: true\` a read after a write went to a replica in ${servedByReplica(fast).toFixed(1)} % of the ` +
      `cycles with \`synchronous_commit = off\` and ${servedByReplica(sync).toFixed(1)} % with \`on\`; the others went to ` +
      'the primary after the replay check found the replica behind. `counters.queries` counts the statements the ORM sends ' +
      'through a node: it leaves out `begin`/`commit` and the library’s own WAL-position and replay checks, so it is not a ' +
      'round-trip count.',
    '',
  ].join('\n');
}

function writeOnlySection(write: PhaseResult): string {
  const base = median(write.micros.noRyw);
  const per = (n: number) => (n / write.count).toFixed(2);
  const writeKinds = KINDS.filter((k) => k !== 'read');
  return [
    '### Read replicas: the extra round trip of `readYourWrites`, writes only',
    '',
    `The insert of the cycle above alone (\`synchronous_commit = off\`): ${write.count} writes per variant after ${WARM_UP} ` +
      'of warm-up, taking turns in a random order; ours is a `@ShardBy` method that flushes (it opens its own context). ' +
      'Median wall time per write.',
    '',
    '| variant | median µs per write | ratio to `readYourWrites: false` | difference | statements per write | per write: begin · insert · commit · WAL position read · replica replay check |',
    '|---|---|---|---|---|---|',
    ...VARIANTS.map((v) => {
      const s = write.statements[v];
      const m = median(write.micros[v]);
      const difference = v === 'noRyw' ? '—' : `${m >= base ? '+' : '−'}${Math.abs(m - base).toFixed(0)} µs`;
      return (
        `| ${LABELS[v]} | ${m.toFixed(0)} | ${(m / base).toFixed(3)} | ${difference} | ` +
        `${per(sumNodes(s, () => true))} | ${breakdown(s, writeKinds, per)} |`
      );
    }),
    '',
  ].join('\n');
}

// ------------------------------------------------------------------------------------------------
// Statements per node, from MikroORM's query log

const KINDS = ['begin', 'insert', 'commit', 'walPosition', 'replayCheck', 'read'] as const;
type Kind = (typeof KINDS)[number] | 'other';
/** node → kind → statements */
type Counts = Map<string, Map<Kind, number>>;

/** What a logged statement is; undefined for the health monitor's background checks. */
function classify(sql: string): Kind | undefined {
  const s = sql.trimStart().toLowerCase();
  if (s.includes('pg_is_in_recovery')) return undefined;
  if (s.startsWith('begin')) return 'begin';
  if (s.startsWith('commit')) return 'commit';
  if (s.startsWith('insert')) return 'insert';
  if (s.includes('pg_current_wal_insert_lsn')) return 'walPosition';
  if (s.includes('pg_last_wal_replay_lsn')) return 'replayCheck';
  if (s.startsWith('select') && s.includes('bench_replica_items')) return 'read';
  return 'other';
}

/** `s0/replica-1` → `replica-1` */
const nodeName = (id: string) => id.slice(id.indexOf('/') + 1);

/**
 * Counts what every connection sends, by node and kind. MikroORM logs each statement it sends
 * (`begin` and `commit` included) through the logger of the ORM that owns the connection: each of our
 * nodes has its own ORM (named after the fact with `nameNodes`); plain MikroORM's replicas are told
 * apart by the connection the log entry names.
 */
class StatementLog {
  private readonly counts: Counts = new Map();

  readonly factory = (): Logger => new CountingLogger(this);

  nameNodes(registry: NodeRegistry): void {
    for (const node of registry.nodes) {
      const logger = node.orm.config.getLogger();
      if (logger instanceof CountingLogger) logger.node = nodeName(node.id);
    }
  }

  add(node: string, sql: string): void {
    const kind = classify(sql);
    if (!kind) return;
    const byKind = this.counts.get(node) ?? new Map<Kind, number>();
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    this.counts.set(node, byKind);
  }

  snapshot(): Counts {
    return new Map([...this.counts].map(([node, byKind]) => [node, new Map(byKind)]));
  }
}

class CountingLogger implements Logger {
  node: string | undefined;

  constructor(private readonly statements: StatementLog) {}

  logQuery(context: LogContext): void {
    const { connection } = context;
    this.statements.add(
      this.node ?? (connection?.type === 'read' ? (connection.name ?? 'replica') : 'primary'),
      context.query ?? '',
    );
  }

  log(): void {}

  warn(): void {}

  error(namespace: string, message: string): void {
    process.stderr.write(`[${namespace}] ${message}\n`);
  }

  setDebugMode(): void {}

  isEnabled(): boolean {
    return false;
  }
}

function diff(after: Counts, before: Counts): Counts {
  return new Map(
    [...after].map(([node, byKind]) => [
      node,
      new Map([...byKind].map(([kind, n]) => [kind, n - (before.get(node)?.get(kind) ?? 0)])),
    ]),
  );
}

/** Per-kind figures joined by ` · `; statements of no known kind are added at the end when there are any. */
function breakdown(counts: Counts, kinds: readonly Kind[], per: (n: number) => string): string {
  const other = sumKind(counts, 'other', () => true);
  const shown = kinds.map((k) => per(sumKind(counts, k, () => true))).join(' · ');
  return other ? `${shown} (+ ${per(other)} other)` : shown;
}

function sumNodes(counts: Counts, which: (node: string) => boolean): number {
  let sum = 0;
  for (const [node, byKind] of counts) if (which(node)) for (const n of byKind.values()) sum += n;
  return sum;
}

function sumKind(counts: Counts, kind: Kind, which: (node: string) => boolean): number {
  let sum = 0;
  for (const [node, byKind] of counts) if (which(node)) sum += byKind.get(kind) ?? 0;
  return sum;
}

// ------------------------------------------------------------------------------------------------

/** xorshift32: the same variant orders on every run. */
function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

function shuffle<T>(list: readonly T[], random: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
