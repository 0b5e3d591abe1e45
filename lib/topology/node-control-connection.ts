import pg from 'pg';
import { connectionFailure } from './connection-failure.js';
import { noAnswerWithin, withTimeout } from './with-timeout.js';

/**
 * One connection of its own to a node, beside the application's pool, for health checks, probes and
 * the library's own small metadata (the deployment's cursor secret):
 * a pool full of busy or stuck connections never hides a healthy server, and a check never waits
 * behind the application's statements. Reconnects on the next check after a failure.
 */
export class NodeControlConnection {
  private readonly pool: pg.Pool;

  /** `options`: how the node's own pool connects (host, port, credentials, ssl...); nothing is opened yet. */
  constructor(options: pg.PoolConfig) {
    this.pool = new pg.Pool({
      ...options,
      // two: a confirmation probe does not queue behind a slow scheduled check
      min: 0,
      max: 2,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
      idleTimeoutMillis: 0,
      allowExitOnIdle: true,
      application_name: 'nestjs-mikro-orm-sharding health',
    });
    // A connection that breaks is dropped (the next check reconnects); its 'error' event must have a
    // listener, idle (the pool's) or checked out (pg-pool leaves those to the holder), or it kills the process.
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  /**
   * Runs `sql` bounded by `timeoutMs` (connecting included); a connection that did not answer is discarded.
   * When the kept connection turns out to be broken (the server terminated it, e.g. with every other
   * backend), the question is asked again once on a new one: only a server that fails a fresh
   * connection is a server that fails. For idempotent statements only (checks, reads, `if not exists`).
   */
  async query<Row>(sql: string, timeoutMs: number, params: unknown[] = []): Promise<Row[]> {
    const started = performance.now();
    try {
      return await this.queryOnce<Row>(sql, timeoutMs, params);
    } catch (error) {
      const left = timeoutMs - (performance.now() - started);
      if (connectionFailure(error) !== 'lost' || left < 1) throw error;
      return this.queryOnce<Row>(sql, left, params);
    }
  }

  /** Connect and query in one window: time lost to a blocked event loop is not taken from the query. */
  private async queryOnce<Row>(sql: string, timeoutMs: number, params: unknown[]): Promise<Row[]> {
    let client: pg.PoolClient | undefined;
    let gaveUp = false;
    const work = (async () => {
      client = await this.pool.connect();
      if (gaveUp) throw new Error('abandoned'); // connected after the verdict: the catch below drops it
      return client.query(sql, params);
    })();
    try {
      const result = await withTimeout(work, timeoutMs, noAnswerWithin(timeoutMs), (late) => {
        gaveUp = true;
        // a connection that answered too late, or never, is not trusted again
        void late.then(
          () => client?.release(true),
          () => client?.release(true),
        );
      });
      client!.release();
      return result.rows as Row[];
    } catch (error) {
      if (!gaveUp) client?.release(true); // broken or in an unknown state: never reused
      throw error;
    }
  }

  /** Closes the connection (bounded: a frozen server does not hold up shutdown). */
  async close(): Promise<void> {
    await withTimeout(this.pool.end(), 2_000, noAnswerWithin(2_000)).catch(() => undefined);
  }
}
