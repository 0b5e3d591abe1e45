import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import pg from 'pg';
import { EmbeddedTopologyError } from '../errors/embedded-topology.error.js';
import type { NodeFieldsConfig } from '../topology/shard-config.js';
import { findFreePort } from './free-port.js';
import { postgresOsUser } from './os-user.js';
import { postgresBinaries } from './postgres-binaries.js';

/** Role of an embedded server in its shard. */
export type EmbeddedRole = 'primary' | 'replica';

/** What one embedded server is made of; built by `startEmbeddedTopology()`. */
export interface EmbeddedServerSpec {
  /** `s0-primary`, `s0-replica-1`, ... also its data folder's name. */
  name: string;
  shard: string;
  role: EmbeddedRole;
  dataDir: string;
  user: string;
  password: string;
  dbName: string;
  /** `-c name=value` settings passed to the server on every start. */
  settings: Record<string, string>;
  /** For a replica: the primary it streams from, and the 0600 pgpass file holding the password. */
  upstream?: { server: EmbeddedServer; passfile: string };
  startTimeoutMs: number;
  onLog?: (node: string, line: string) => void;
}

const LOG_LINES_KEPT = 60;
const PORT_RETRIES = 3;

/** Signals {@link EmbeddedServer.kill} sends to the whole server (postmaster and the processes it forked). */
export type ServerSignal = 'SIGKILL' | 'SIGSTOP' | 'SIGCONT';

/**
 * One real PostgreSQL server of an embedded topology. Tests use it to stop, restart or query a
 * node directly; `start()` on a replica waits until it is streaming from its primary.
 */
export class EmbeddedServer {
  readonly name: string;
  readonly shard: string;
  readonly role: EmbeddedRole;
  readonly dataDir: string;
  private currentPort = 0;
  private currentPid: number | undefined;
  private child: ChildProcessByStdio<null, Readable, Readable> | undefined;
  private exited: Promise<void> | undefined;
  private readonly logLines: string[] = [];
  /** Once a server has run, replicas know its port: it must keep it. */
  private everStarted = false;
  /** Frozen by `kill('SIGSTOP')` and not continued yet. */
  private stopped = false;

  constructor(private readonly spec: EmbeddedServerSpec) {
    this.name = spec.name;
    this.shard = spec.shard;
    this.role = spec.role;
    this.dataDir = spec.dataDir;
  }

  /** TCP port on 127.0.0.1 (kept across restarts of this server). */
  get port(): number {
    return this.currentPort;
  }

  /** Process id of the postmaster while running. */
  get pid(): number | undefined {
    return this.currentPid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** True between `kill('SIGSTOP')` and `kill('SIGCONT')`: the server is frozen. */
  get paused(): boolean {
    return this.stopped;
  }

  /** The connection fields `ShardingModule` takes for this node. */
  get connection(): NodeFieldsConfig {
    const { user, password, dbName } = this.spec;
    return { host: '127.0.0.1', port: this.currentPort, user, password, dbName };
  }

  /** The last lines this server logged (start-up failures are explained here). */
  logTail(): string {
    return this.logLines.join('\n');
  }

  /** Starts the server; resolves once it accepts connections to the database (and streams, for a replica). */
  async start(extraSettings: Record<string, string> = {}): Promise<void> {
    if (this.child) return;
    for (let attempt = 1; ; attempt++) {
      if (!this.currentPort) this.currentPort = await findFreePort();
      try {
        await this.startOnce(extraSettings);
        return;
      } catch (error) {
        const portTaken = /could not bind|address already in use/i.test(this.logTail());
        if (!portTaken || attempt >= PORT_RETRIES || this.everStarted) throw error;
        this.currentPort = 0; // another process took the port between probe and bind: pick again
      }
    }
  }

  /** Fast shutdown (SIGINT; SIGKILL after 30 s); resolves when the postmaster has exited. */
  async stop(): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    this.child = undefined;
    this.currentPid = undefined;
    if (!child || !exited || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    // a frozen server only sees the SIGINT once it runs again
    if (this.stopped) await this.signalServer(child.pid!, 'SIGCONT');
    this.stopped = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(killer);
  }

  /**
   * Fault injection: sends `signal` to the postmaster and to every process it forked (backends,
   * WAL sender/receiver, checkpointer...), as a crash or a frozen machine would hit them all at once.
   * - `SIGKILL`: a crash. Resolves when every process is gone; `start()` then runs crash recovery.
   * - `SIGSTOP`: the server freezes (connections stay open, nothing answers) until `SIGCONT`.
   * - `SIGCONT`: the frozen server runs again.
   * Does nothing when the server is not running.
   */
  async kill(signal: ServerSignal): Promise<void> {
    const child = this.child;
    const pid = child?.pid;
    if (!child || pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    if (signal !== 'SIGKILL') {
      await this.signalServer(pid, signal);
      this.stopped = signal === 'SIGSTOP';
      return;
    }
    // frozen first, the postmaster cannot fork a process we would miss
    signalQuietly(pid, 'SIGSTOP');
    const forked = await childPids(pid);
    for (const forkedPid of forked) signalQuietly(forkedPid, 'SIGKILL');
    signalQuietly(pid, 'SIGKILL');
    await this.exited;
    // PostgreSQL refuses to start while a process of the old server still holds its shared memory
    await waitUntilGone(forked);
    this.child = undefined;
    this.currentPid = undefined;
    this.stopped = false;
  }

  /** Freezes the postmaster before its children (so it forks none meanwhile); wakes them in reverse. */
  private async signalServer(pid: number, signal: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    if (signal === 'SIGSTOP') signalQuietly(pid, signal);
    for (const child of await childPids(pid)) signalQuietly(child, signal);
    if (signal === 'SIGCONT') signalQuietly(pid, signal);
  }

  /** Runs one statement on this server over a fresh connection (tests and tooling; not the ORM path). */
  async query<Row extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    database = this.spec.dbName,
  ): Promise<Row[]> {
    const client = this.client(database);
    await client.connect();
    try {
      return (await client.query<Row>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  private client(database: string): pg.Client {
    const { user, password } = this.spec;
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.currentPort,
      user,
      password,
      database,
      connectionTimeoutMillis: 2_000,
    });
    client.on('error', () => undefined); // a server stopping under an idle client is expected here
    return client;
  }

  private async startOnce(extraSettings: Record<string, string>): Promise<void> {
    this.logLines.length = 0;
    const settings = { ...this.spec.settings, ...this.replicationSettings(), ...extraSettings };
    const flags = Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
    const owner = await postgresOsUser(); // as root, run as the `postgres` OS user
    const child = spawn(
      (await postgresBinaries()).postgres,
      ['-D', this.dataDir, '-p', String(this.currentPort), ...flags],
      {
        ...(owner ?? {}),
        env: { ...process.env, LC_MESSAGES: 'C' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    this.stopped = false;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.exited = exited;
    child.stdout.on('data', (chunk: Buffer) => this.record(chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => this.record(chunk.toString('utf8')));
    child.once('error', (error) => this.record(`could not run postgres: ${error.message}`));
    const deadline = Date.now() + this.spec.startTimeoutMs;
    try {
      while (!(await this.isReady())) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error('the server process exited');
        if (Date.now() > deadline) throw new Error(`not ready after ${this.spec.startTimeoutMs} ms`);
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 50))]);
      }
      this.currentPid = child.pid;
      this.everStarted = true;
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw new EmbeddedTopologyError(
        `Embedded PostgreSQL node ${this.name} (127.0.0.1:${this.currentPort}, data ${this.dataDir}) did not start: ` +
          `${(error as Error).message}. Its last log lines:\n${this.logTail() || '(no output)'}`,
      );
    }
  }

  private replicationSettings(): Record<string, string> {
    const upstream = this.spec.upstream;
    if (!upstream) return {};
    const conninfo = [
      'host=127.0.0.1',
      `port=${upstream.server.port}`,
      `user=${this.spec.user}`,
      `passfile=${upstream.passfile}`,
      `application_name=${this.name}`,
    ].join(' ');
    return { primary_conninfo: conninfo, hot_standby: 'on' };
  }

  /**
   * Accepts connections (the primary: to `postgres`); a replica must also be in recovery and streaming,
   * unless `pg_promote()` made it a primary (it then streams from nobody).
   */
  private async isReady(): Promise<boolean> {
    try {
      if (this.role === 'primary') {
        await this.query('select 1', [], 'postgres');
        return true;
      }
      const [row] = await this.query<{ recovery: boolean; status: string | null }>(
        'select pg_is_in_recovery() as recovery, (select status from pg_stat_wal_receiver) as status',
      );
      return !row.recovery || row.status === 'streaming';
    } catch {
      return false;
    }
  }

  private record(message: string): void {
    for (const line of message.split('\n')) {
      if (!line.trim()) continue;
      this.logLines.push(line);
      if (this.logLines.length > LOG_LINES_KEPT) this.logLines.shift();
      this.spec.onLog?.(this.name, line);
    }
  }
}

const execFileAsync = promisify(execFile);

/** Process ids whose parent is `pid`: from /proc on Linux, from `ps` elsewhere. */
async function childPids(pid: number): Promise<number[]> {
  if (process.platform === 'linux') {
    const entries = await readdir('/proc').catch(() => [] as string[]);
    const children = await Promise.all(
      entries
        .filter((entry) => /^\d+$/.test(entry))
        .map(async (entry) => {
          const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
          // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          return ppid === pid ? Number(entry) : undefined;
        }),
    );
    return children.filter((child): child is number => child !== undefined);
  }
  const { stdout } = await execFileAsync('ps', ['-A', '-o', 'pid=,ppid=']);
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter(([child, parent]) => parent === pid && child > 0)
    .map(([child]) => child);
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // the process ended meanwhile
  }
}

/** Waits (up to 10 s) until none of `pids` runs: exited, or a zombie waiting to be reaped. */
async function waitUntilGone(pids: readonly number[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  const alive = async (pid: number) => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    if (process.platform !== 'linux') return true;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  };
  while (Date.now() < deadline) {
    const states = await Promise.all(pids.map(alive));
    if (!states.some(Boolean)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
