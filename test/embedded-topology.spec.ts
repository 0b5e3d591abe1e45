import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddedTopologyError, startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { eventually, processExists } from './support/pids.js';

describe('startEmbeddedTopology (real PostgreSQL servers)', () => {
  let topology: EmbeddedTopology;

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
  });

  afterAll(() => topology?.stop());

  it('returns the shards option of ShardingModule: each shard a primary and one replica on 127.0.0.1', () => {
    expect(Object.keys(topology.shards)).toEqual(['s0', 's1']);
    for (const shard of Object.values(topology.shards)) {
      expect(shard.primary).toMatchObject({ host: '127.0.0.1', dbName: 'app', user: 'postgres' });
      expect(shard.replicas).toHaveLength(1);
    }
    const ports = topology.servers.map((s) => s.port);
    expect(new Set(ports).size).toBe(4);
  });

  it('each server is what it claims: replicas are in recovery and streaming, primaries are not', async () => {
    for (const server of topology.servers) {
      const [row] = await server.query<{ port: number; recovery: boolean; receiver: string | null }>(
        'select inet_server_port() as port, pg_is_in_recovery() as recovery, (select status from pg_stat_wal_receiver) as receiver',
      );
      expect(row.port).toBe(server.port);
      expect(row.recovery).toBe(server.role === 'replica');
      expect(row.receiver).toBe(server.role === 'replica' ? 'streaming' : null);
    }
  });

  it('a write on each primary becomes visible on its own replica only', async () => {
    for (const shard of ['s0', 's1']) {
      await topology.server(shard).query(`create table marker_${shard} (shard text)`);
      await topology.server(shard).query(`insert into marker_${shard} values ($1)`, [shard]);
    }
    for (const shard of ['s0', 's1']) {
      const replica = topology.server(shard, 'replica');
      const visible = await eventually(
        async () => (await replica.query(`select to_regclass('marker_${shard}') as t`))[0].t !== null,
      );
      expect(visible).toBe(true);
      expect(await replica.query(`select shard from marker_${shard}`)).toEqual([{ shard }]);
      const other = shard === 's0' ? 's1' : 's0';
      expect((await replica.query(`select to_regclass('marker_${other}') as t`))[0].t).toBeNull();
    }
  });

  it('refuses writes on a replica (hot standby is read-only)', async () => {
    await expect(topology.server('s0', 'replica').query('create table nope (x int)')).rejects.toThrow(
      /read-only transaction/,
    );
  });

  it('a single server can be stopped and started again on the same port, and catches up', async () => {
    const replica = topology.server('s1', 'replica');
    const { pid, port } = replica;
    await replica.stop();
    expect(processExists(pid!)).toBe(false);
    await topology.server('s1').query('insert into marker_s1 values ($1)', ['while-down']);
    await replica.start();
    expect(replica.port).toBe(port);
    expect(
      await eventually(async () => (await replica.query('select count(*)::int as n from marker_s1'))[0].n === 2),
    ).toBe(true);
  });

  it('stop() leaves no server process and no data folder', async () => {
    const own = await startEmbeddedTopology({ shards: 1, replicasPerShard: 1 });
    const pids = own.servers.map((s) => s.pid!);
    expect(pids.every(processExists)).toBe(true);
    await own.stop();
    expect(pids.filter(processExists)).toEqual([]);
    expect(existsSync(own.dataDir)).toBe(false);
  });
});

describe('startEmbeddedTopology lifecycle', () => {
  it('a crashed (SIGKILLed) process leaves no server running and no data folder behind', async () => {
    const script = fileURLToPath(new URL('./support/start-topology-and-hang.mjs', import.meta.url));
    const child = spawn(process.execPath, ['--no-warnings', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    const { dataDir, pids } = JSON.parse(line) as { dataDir: string; pids: number[] };
    expect(pids).toHaveLength(2);
    expect(pids.every(processExists)).toBe(true);
    child.kill('SIGKILL');
    expect(await eventually(() => !pids.some(processExists) && !existsSync(dataDir), 20_000)).toBe(true);
  });

  it('a persistent dataDir keeps its data for the next start, and refuses a different shape', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'nmos-persist-'));
    await chmod(parent, 0o755); // mkdtemp makes it 0700; as root the servers run as "postgres" and must enter it
    const dataDir = join(parent, 'data');
    try {
      const first = await startEmbeddedTopology({ shards: 1, replicasPerShard: 1, dataDir });
      await first.server('s0').query('create table kept (x int); insert into kept values (7)');
      await first.stop();
      expect(existsSync(dataDir)).toBe(true);

      const second = await startEmbeddedTopology({ shards: 1, replicasPerShard: 1, dataDir });
      try {
        expect(await second.server('s0').query('select x from kept')).toEqual([{ x: 7 }]);
        expect(await second.server('s0', 'replica').query('select x from kept')).toEqual([{ x: 7 }]);
      } finally {
        await second.stop();
      }
      await expect(startEmbeddedTopology({ shards: 2, dataDir })).rejects.toThrow(
        /holds a different topology \(shards: 1 there, 2 asked\)/,
      );
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('a server that cannot start reports its own log, and nothing is left running', async () => {
    const error = await startEmbeddedTopology({
      shards: 1,
      replicasPerShard: 0,
      settings: { shared_buffers: 'lots' },
    }).catch((e) => e);
    expect(error).toBeInstanceOf(EmbeddedTopologyError);
    expect(error.message).toMatch(/s0-primary .* did not start/);
    expect(error.message).toMatch(/invalid value for parameter "shared_buffers"/);
  });

  it('rejects impossible options with one clear error', async () => {
    await expect(startEmbeddedTopology({ shards: 0, replicasPerShard: -1 })).rejects.toThrow(
      /shards must be an integer >= 1 \(got 0\); replicasPerShard must be an integer >= 0 \(got -1\)/,
    );
  });
});
