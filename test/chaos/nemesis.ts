import type { NodeRegistry } from '../../lib/index.js';
import type { EmbeddedServer, EmbeddedTopology } from '../../lib/testing/index.js';
import type { ChaosErrorBody } from './chaos-errors.filter.js';
import type { HostileKind } from './chaos-app.js';
import type { HistoryLog } from './history-log.js';
import type { Random } from './random.js';

/** The faults the nemesis cycles through (a seeded shuffle of all of them, again and again). */
const FAULTS = ['kill', 'pause', 'stop', 'terminate-backends', 'replay-delay', 'hostile'] as const;
type Fault = (typeof FAULTS)[number];

/** A promotion needs time before (to have data) and after (to use the new primary). */
const PROMOTION_MIN_DURATION_MS = 20_000;
/** About how long one fault takes, calm before it included: places the promotion inside the run. */
const FAULT_CYCLE_MS = 3_500;

export interface NemesisOptions {
  topology: EmbeddedTopology;
  /** The app's nodes: to see that a hostile value left its node up, and that a promotion was followed. */
  registry: NodeRegistry;
  /** The app's base URL, for hostile values. */
  url: string;
  /** One key per shard, to route hostile values to that shard. */
  keyOfShard: Readonly<Record<string, string>>;
  random: Random;
  log: HistoryLog;
  /** How long the run injects faults; the promotion is placed inside it. */
  durationMs: number;
  /** Aborted when no new fault may start. */
  finish: AbortSignal;
  /** Aborted on Ctrl-C: holds end at once (the caller still heals). */
  cancel: AbortSignal;
}

/** A shard's servers by what they do now. */
interface ShardServers {
  /** The acting primary (after a promotion: the promoted replica). */
  primary: EmbeddedServer;
  /** Replicas streaming from the acting primary. */
  followers: EmbeddedServer[];
  /** Replicas whose primary was stopped for good by a promotion: they follow nobody. */
  orphans: EmbeddedServer[];
  /** The old primary after a promotion: out for the rest of the run. */
  retired: EmbeddedServer[];
}

/**
 * The fault schedule, seeded: one fault at a time, a short calm between two. SIGKILL then restart,
 * SIGSTOP then SIGCONT, SIGINT stop then start, of primaries and replicas; `pg_terminate_backend` of
 * the app's connections on a node; replay paused on a replica; hostile values through a routed method
 * (they must answer 400 and leave the node up); once per run, when the duration allows, a primary
 * stopped for good and one of its replicas promoted. Every fault is a `fault` event in the history.
 */
export class Nemesis {
  /** What the library did wrong in the nemesis's own checks (hostile values, promotion not followed). */
  readonly findings: string[] = [];
  /** What went wrong in the nemesis itself (a server that would not restart...). */
  readonly problems: string[] = [];
  private readonly shards = new Map<string, ShardServers>();

  constructor(private readonly options: NemesisOptions) {
    for (const server of options.topology.servers) {
      const entry = this.shards.get(server.shard) ?? {
        primary: server,
        followers: [],
        orphans: [],
        retired: [],
      };
      if (server.role === 'primary') entry.primary = server;
      else entry.followers.push(server);
      this.shards.set(server.shard, entry);
    }
  }

  /** The shard's acting primary. */
  actingPrimary(shard: string): EmbeddedServer {
    return this.shard(shard).primary;
  }

  /** Replicas that still stream from their shard's acting primary. */
  followers(shard: string): readonly EmbeddedServer[] {
    return this.shard(shard).followers;
  }

  /** Replicas left without a primary by the promotion. */
  get orphans(): EmbeddedServer[] {
    return [...this.shards.values()].flatMap((s) => s.orphans);
  }

  /** Injects faults until `finish`, then heals. */
  async run(): Promise<void> {
    const { random, finish, durationMs } = this.options;
    // by the count of faults, not by the clock: the seed replays the same sequence of faults
    const promoteAfter =
      durationMs >= PROMOTION_MIN_DURATION_MS
        ? Math.max(1, Math.round((durationMs * (0.35 + 0.25 * random.next())) / FAULT_CYCLE_MS))
        : Number.POSITIVE_INFINITY;
    let queue: Fault[] = [];
    try {
      for (let done = 0; !finish.aborted; done++) {
        await this.hold(random.int(500, 2_000), finish);
        if (finish.aborted) break;
        if (done === promoteAfter) {
          await this.promote();
          continue;
        }
        if (!queue.length) queue = random.shuffle(FAULTS);
        await this.inject(queue.shift()!);
      }
    } finally {
      await this.heal();
    }
  }

  /**
   * Resumes paused servers and replay, starts stopped servers (not the retired primary). After
   * Ctrl-C only resumes: the servers are about to be stopped, and a frozen one would not stop.
   */
  async heal(): Promise<void> {
    const touched: string[] = [];
    for (const server of this.liveServers()) {
      if (server.paused) {
        await server.kill('SIGCONT');
        this.record('resume', [server]);
        touched.push(server.name);
      }
    }
    if (this.options.cancel.aborted) return;
    // primaries first: a replica's start waits until it streams from its primary
    const down = this.liveServers()
      .filter((s) => !s.running)
      .sort((a, b) => Number(this.isPrimary(b)) - Number(this.isPrimary(a)));
    for (const server of down) {
      if (await this.start(server)) touched.push(server.name);
    }
    for (const server of this.liveServers().filter((s) => !this.isPrimary(s) && s.running)) {
      const [row] = await server
        .query<{ paused: boolean }>('select pg_is_wal_replay_paused() as paused')
        .catch(() => [{ paused: false }]);
      if (row.paused) {
        await server.query('select pg_wal_replay_resume()').catch(() => undefined);
        this.record('replay-resume', [server]);
        touched.push(server.name);
      }
    }
    this.record(
      'heal',
      touched.map((name) => this.options.topology.servers.find((s) => s.name === name)!),
    );
  }

  private async inject(fault: Fault): Promise<void> {
    const { random } = this.options;
    try {
      switch (fault) {
        case 'kill': {
          const server = random.pick(this.restartable());
          this.record('kill', [server]);
          await server.kill('SIGKILL');
          await this.hold(random.int(300, 2_000));
          await this.start(server);
          return;
        }
        case 'stop': {
          const server = random.pick(this.restartable());
          this.record('stop', [server]);
          await server.stop();
          await this.hold(random.int(500, 3_000));
          await this.start(server);
          return;
        }
        case 'pause': {
          const server = random.pick(this.liveServers());
          this.record('pause', [server]);
          await server.kill('SIGSTOP');
          await this.hold(random.int(500, 3_000));
          await server.kill('SIGCONT');
          this.record('resume', [server]);
          return;
        }
        case 'terminate-backends':
          return await this.terminateBackends(random.pick(this.liveServers()));
        case 'replay-delay': {
          const replicas = this.liveServers().filter((s) => !this.isPrimary(s));
          if (!replicas.length) return;
          const replica = random.pick(replicas);
          await replica.query('select pg_wal_replay_pause()');
          this.record('replay-delay', [replica], 'pg_wal_replay_pause()');
          await this.hold(random.int(1_000, 4_000));
          await replica.query('select pg_wal_replay_resume()');
          this.record('replay-resume', [replica]);
          return;
        }
        case 'hostile':
          return await this.hostile(random.pick([...this.shards.keys()]));
      }
    } catch (error) {
      this.problems.push(`${fault}: ${(error as Error).message.split('\n', 1)[0]}`);
    }
  }

  /** `pg_terminate_backend` of every client connection of the app's database (not the WAL senders). */
  private async terminateBackends(server: EmbeddedServer): Promise<void> {
    const [row] = await server.query<{ n: string }>(
      `select count(pg_terminate_backend(pid)) as n from pg_stat_activity
        where backend_type = 'client backend' and datname = current_database() and pid <> pg_backend_pid()`,
    );
    this.record('terminate-backends', [server], `${row.n} connections`);
  }

  /**
   * Sends both hostile values to the shard's primary through a routed method. Each must come back as
   * one failed statement (400), and the node must stay up for everyone else.
   */
  private async hostile(shard: string): Promise<void> {
    const { registry, url, keyOfShard } = this.options;
    const target = this.actingPrimary(shard);
    const nodeId = this.nodeId(target);
    const status = () => registry.health().find((n) => n.id === nodeId)?.status;
    // the check is only meaningful on a node the app sees up (e.g. not right after a restart)
    if (!(await until(() => status() === 'up', 3_000))) return;
    const answers: string[] = [];
    for (const kind of ['nul-byte', 'text-as-integer'] satisfies HostileKind[]) {
      const response = await fetch(`${url}/hostile`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: keyOfShard[shard], kind }),
        signal: AbortSignal.timeout(10_000),
      }).catch((error: Error) => error);
      const answer =
        response instanceof Error
          ? `no answer (${response.message})`
          : `${response.status} ${((await response.json().catch(() => ({}))) as Partial<ChaosErrorBody>).error ?? ''}`.trim();
      answers.push(`${kind}: ${answer}`);
      if (!/^400 /.test(answer))
        this.findings.push(`hostile value ${kind} on ${target.name} answered ${answer}, not 400`);
    }
    // a node wrongly taken out shows at once, or after the monitor's next rounds
    const downNow = status() === 'down';
    const downLater = !downNow && (await until(() => status() === 'down', 800));
    if (downNow || downLater) {
      this.findings.push(
        `hostile values took ${target.name} out (${registry.health().find((n) => n.id === nodeId)?.error ?? 'down'})`,
      );
    }
    this.record(
      'hostile',
      [target],
      `${answers.join('; ')}; node ${downNow || downLater ? 'marked down' : 'stayed up'}`,
    );
  }

  /**
   * Stops a shard's primary for good and promotes one of its replicas (the one other replica is left
   * orphaned). The primary stops cleanly first, so its replicas received all it wrote: nothing
   * acknowledged is lost by the promotion itself.
   */
  private async promote(): Promise<void> {
    const { random, registry } = this.options;
    const shard = random.pick([...this.shards.keys()]);
    const servers = this.shard(shard);
    const old = servers.primary;
    const [chosen, ...others] = random.shuffle(servers.followers);
    if (!chosen) return;
    try {
      // a replica that lost its stream (e.g. its primary was just restarted) may lack acknowledged
      // commits: only one streaming and caught up may take over, as failover tools require
      const ready = await until(async () => {
        const [{ lsn }] = await old.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
        const [row] = await chosen.query<{ ok: boolean }>(
          `select pg_last_wal_replay_lsn() >= $1::pg_lsn
              and exists (select 1 from pg_stat_wal_receiver where status = 'streaming') as ok`,
          [lsn],
        );
        return row.ok;
      }, 15_000);
      if (!ready) {
        this.problems.push(`promote: ${chosen.name} did not catch up with ${old.name}; no promotion in this run`);
        return;
      }
      this.record('stop', [old], 'for good: a replica is promoted');
      // a fast shutdown sends every WAL record to the connected replicas before it ends
      await old.stop();
      await until(async () => {
        const [row] = await chosen.query<{ done: boolean }>(
          'select pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() as done',
        );
        return row.done;
      }, 10_000);
      await chosen.query('select pg_promote()');
      servers.retired.push(old);
      servers.primary = chosen;
      servers.orphans.push(...others);
      servers.followers = [];
      this.record(
        'promote',
        [old, chosen],
        `${chosen.name} promoted, ${old.name} kept out${others.length ? `, ${others.map((s) => s.name).join(', ')} orphaned` : ''}`,
      );
      const followed = await until(() => registry.acting(shard).primary.id === this.nodeId(chosen), 10_000);
      if (!followed) this.findings.push(`the app did not follow the promotion of ${chosen.name} within 10 s`);
    } catch (error) {
      this.problems.push(`promote: ${(error as Error).message.split('\n', 1)[0]}`);
    }
  }

  /** Starts a server, retrying (a port or a crash recovery can be slow); records `start`. */
  private async start(server: EmbeddedServer): Promise<boolean> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await server.start();
        this.record('start', [server]);
        return true;
      } catch (error) {
        if (attempt === 3) this.problems.push(`start ${server.name}: ${(error as Error).message.split('\n', 1)[0]}`);
      }
    }
    return false;
  }

  /** Servers that still take part (not the retired primary). */
  private liveServers(): EmbeddedServer[] {
    return [...this.shards.values()].flatMap((s) => [s.primary, ...s.followers, ...s.orphans]);
  }

  /** Servers that can be stopped and started again: an orphan would wait forever for its primary. */
  private restartable(): EmbeddedServer[] {
    return [...this.shards.values()].flatMap((s) => [s.primary, ...s.followers]);
  }

  private isPrimary(server: EmbeddedServer): boolean {
    return this.shard(server.shard).primary === server;
  }

  /** The library's node id of an embedded server: `s0-replica-1` → `s0/replica-1`. */
  private nodeId(server: EmbeddedServer): string {
    return server.name.replace('-', '/');
  }

  private shard(name: string): ShardServers {
    const servers = this.shards.get(name);
    if (!servers) throw new Error(`no shard ${name}`);
    return servers;
  }

  private record(fault: string, servers: readonly EmbeddedServer[], detail?: string): void {
    this.options.log.record({
      type: 'fault',
      fault,
      nodes: servers.map((s) => s.name),
      ...(detail !== undefined && { detail }),
    });
  }

  /** Waits `ms`, or less when `signal` (default: cancel) is aborted. */
  private hold(ms: number, signal: AbortSignal = this.options.cancel): Promise<void> {
    return sleep(ms, AbortSignal.any([signal, this.options.cancel]));
  }
}

/** Waits `ms` or until `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Polls `check` every 50 ms until it is true (true) or `timeoutMs` passed (false); a throwing check is false. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}
