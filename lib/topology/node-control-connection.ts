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

  /** `options`: the node's host, port, user, password, database (and ssl); nothing is opened yet. */
  constructor(options: pg.PoolConfig) {
    this.pool = new pg.Pool({
      ...options,
      max: 1,
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
   * connection is a server that fails.
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

  private async queryOnce<Row>(sql: string, timeoutMs: number, params: unknown[]): Promise<Row[]> {
    const started = performance.now();
    const client = await withTimeout(this.pool.connect(), timeoutMs, noAnswerWithin(timeoutMs), (late) => {
      void late.then(
        (c) => c.release(true),
        () => undefined,
      ); // connected too late: not trusted
    });
    const left = Math.max(1, timeoutMs - (performance.now() - started));
    try {
      const result = await withTimeout(client.query(sql, params), left, noAnswerWithin(timeoutMs));
      client.release();
      return result.rows as Row[];
    } catch (error) {
      client.release(true); // a connection in an unknown state (stuck, broken) is never reused
      throw error;
    }
  }

  /** Closes the connection (bounded: a frozen server does not hold up shutdown). */
  async close(): Promise<void> {
    await withTimeout(this.pool.end(), 2_000, noAnswerWithin(2_000)).catch(() => undefined);
  }
}
