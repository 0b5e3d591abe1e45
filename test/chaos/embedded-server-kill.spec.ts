import { readdir, readFile } from 'node:fs/promises';
import { startEmbeddedTopology, type EmbeddedTopology } from '../../lib/testing/index.js';

/** Pids of the processes whose parent is `pid` (Linux /proc; the fault run's servers run here). */
async function childrenOf(pid: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const stats = await Promise.all(pids.map((p) => readFile(`/proc/${p}/stat`, 'utf8').catch(() => '')));
  return pids.filter((_, i) => Number(stats[i].slice(stats[i].lastIndexOf(')') + 2).split(' ')[1]) === pid).map(Number);
}

/** Running (not exited, not a zombie). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat[stat.lastIndexOf(')') + 2] !== 'Z';
}

/** EmbeddedServer.kill(): the fault injection the fault run relies on, on real servers. */
(process.platform === 'linux' ? describe : describe.skip)('EmbeddedServer.kill', () => {
  let topology: EmbeddedTopology;

  beforeAll(async () => {
    topology = await startEmbeddedTopology({
      shards: 1,
      replicasPerShard: 1,
      // as in the fault run: with the embedded default (off) a commit may not be in the WAL yet when
      // killed; and a replica retries its primary every 200 ms instead of 5 s
      settings: { synchronous_commit: 'on', wal_retrieve_retry_interval: '200ms' },
    });
    await topology.server('s0').query('create table t (v int)');
  });

  afterAll(async () => {
    await topology?.stop();
  });

  it('SIGSTOP freezes the whole server until SIGCONT; stop() also ends a frozen server', async () => {
    const primary = topology.server('s0');
    await primary.kill('SIGSTOP');
    expect(primary.paused).toBe(true);
    await expect(primary.query('select 1')).rejects.toThrow(); // 2 s connect timeout: nobody answers
    await primary.kill('SIGCONT');
    expect(primary.paused).toBe(false);
    expect(await primary.query('select 1 as one')).toEqual([{ one: 1 }]);

    const replica = topology.server('s0', 'replica');
    await replica.kill('SIGSTOP');
    await replica.stop(); // would wait 30 s for its SIGKILL fallback if the SIGINT stayed pending
    expect(replica.running).toBe(false);
    await replica.start();
    expect(await replica.query('select pg_is_in_recovery() as r')).toEqual([{ r: true }]);
  }, 30_000);

  it('SIGKILL ends the postmaster and every process it forked; start() recovers, committed rows kept', async () => {
    const primary = topology.server('s0');
    await primary.query('insert into t values (1)');
    const pid = primary.pid!;
    const forked = await childrenOf(pid);
    expect(forked.length).toBeGreaterThan(3); // checkpointer, WAL writer, WAL sender...
    await primary.kill('SIGKILL');
    expect(primary.running).toBe(false);
    expect(await Promise.all([pid, ...forked].map(alive))).toEqual([pid, ...forked].map(() => false));

    await primary.start(); // crash recovery; the replica reconnects on its own
    expect(await primary.query('select v from t')).toEqual([{ v: 1 }]);
    await primary.query('insert into t values (2)');
    const replica = topology.server('s0', 'replica');
    for (let i = 0; i < 100 && (await replica.query('select v from t')).length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await replica.query('select v from t order by v')).toEqual([{ v: 1 }, { v: 2 }]);
  }, 30_000);

  it('a replica promoted by pg_promote() starts again after a SIGKILL (as a primary)', async () => {
    const replica = topology.server('s0', 'replica');
    await topology.server('s0').stop();
    await replica.query('select pg_promote()');
    await replica.kill('SIGKILL');
    await replica.start();
    expect(await replica.query('select pg_is_in_recovery() as r')).toEqual([{ r: false }]);
  }, 30_000);
});
