import type { EmbeddedServer } from '../../lib/testing/index.js';

/** Runs `fn` while the replica's WAL replay is paused: what it reads from there is stale. */
export async function withReplayPaused<T>(replica: EmbeddedServer, fn: () => Promise<T>): Promise<T> {
  await replica.query('select pg_wal_replay_pause()');
  try {
    return await fn();
  } finally {
    await replica.query('select pg_wal_replay_resume()');
  }
}

/** Waits until the replica has replayed the account's row. */
export async function untilReplayed(replica: EmbeddedServer, id: string): Promise<void> {
  for (let tries = 0; tries < 400; tries++) {
    const [row] = await replica.query<{ n: string }>('select count(*) as n from accounts where id = $1', [id]);
    if (row.n === '1') return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`the replica did not replay account ${id}`);
}
