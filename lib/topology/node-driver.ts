import { PostgreSqlConnection, PostgreSqlDriver, type Configuration } from '@mikro-orm/postgresql';
import pg, { type Pool, type PoolClient, type PoolConfig } from 'pg';
import { isConnectionFailure } from './connection-failure.js';

/** The parts of a Kysely driver and dialect we pass through (kept local: Kysely is MikroORM's dependency, not ours). */
interface KyselyDriver {
  init(...args: unknown[]): Promise<void>;
  acquireConnection(...args: unknown[]): Promise<object>;
  beginTransaction(connection: object, settings: object): Promise<void>;
  commitTransaction(connection: object): Promise<void>;
  rollbackTransaction(connection: object): Promise<void>;
  savepoint?(connection: object, name: string, compile: unknown): Promise<void>;
  rollbackToSavepoint?(connection: object, name: string, compile: unknown): Promise<void>;
  releaseSavepoint?(connection: object, name: string, compile: unknown): Promise<void>;
  releaseConnection(connection: object): Promise<void>;
  destroy(): Promise<void>;
}

interface KyselyDialect {
  createDriver(): KyselyDriver;
  createQueryCompiler(): unknown;
  createAdapter(): unknown;
  createIntrospector(db: unknown): unknown;
}

type PoolOverrides = PoolConfig & { onPoolCreated?: (pool: Pool) => unknown; Client?: typeof pg.Client };

/** How long `close()` waits for busy connections before it cuts their sockets. */
export const CLOSE_TIMEOUT_MS = 5_000;

/**
 * A node's connection: MikroORM's own PostgreSQL connection, with two repairs.
 *
 * 1. Kysely's controlled transaction (what MikroORM's `begin` uses) holds its pool connection until
 *    `commit` or `rollback` succeeds: a BEGIN that fails, or a COMMIT/ROLLBACK that fails because the
 *    connection broke, never gives it back, and after a few outages the pool is full of dead
 *    connections (every later statement, and `close()`, waits forever). The driver here returns the
 *    connection to the pool as soon as nobody else will (pg then drops a broken one).
 * 2. `close()` is bounded: after {@link CLOSE_TIMEOUT_MS} the sockets of connections still busy (a
 *    statement stuck on a frozen server) are cut, so an application always shuts down.
 */
export class NodeConnection extends PostgreSqlConnection {
  private pgPool: Pool | undefined;
  private readonly clients = new Set<PoolClient>();

  /**
   * The pg options this node's pool is made with (host, port, credentials, ssl, stream, keepAlive,
   * `options`...): what a separate connection to the same node needs to connect the same way.
   */
  poolOptions(): PoolConfig {
    const driverOptions = this.options.driverOptions ?? this.config.get('driverOptions');
    const overrides =
      driverOptions && typeof driverOptions === 'object' && !('createDriver' in driverOptions)
        ? (driverOptions as PoolOverrides)
        : {};
    const { onPoolCreated: _ignored, ...pool } = overrides;
    return this.mapOptions(pool);
  }

  /** The pg pool behind this connection once it exists (counts: `totalCount`, `idleCount`, `waitingCount`). */
  get pool(): Pool | undefined {
    return this.pgPool;
  }

  override createKyselyDialect(overrides: PoolOverrides) {
    const userHook = overrides?.onPoolCreated;
    const dialect = super.createKyselyDialect({
      ...overrides,
      Client: overrides?.Client ?? EndOnConnectionFailureClient,
      onPoolCreated: (pool: Pool) => {
        this.pgPool = pool;
        pool.on('connect', (client) => this.clients.add(client));
        pool.on('remove', (client) => this.clients.delete(client));
        return userHook?.(pool);
      },
    } as PoolConfig);
    return guardDialect(dialect as unknown as KyselyDialect) as unknown as ReturnType<
      PostgreSqlConnection['createKyselyDialect']
    >;
  }

  override async close(force?: boolean): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const cutOff = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        // pg has no public way to abort a client whose server stopped answering: end its socket
        for (const client of this.clients)
          (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        resolve();
      }, CLOSE_TIMEOUT_MS);
      timer.unref();
    });
    const closing = super.close(force);
    closing.catch(() => undefined);
    try {
      // after the cut-off the pool may still wait for a connection nobody will release: do not wait with it
      await Promise.race([closing, cutOff]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * A pg client that ends itself when a query fails because its connection broke. A server that
 * terminates a backend sends the error first and closes the socket after: a client released in
 * between went back to the pool as idle, and the next caller got a dead connection. Ending it at once
 * makes the pool drop it on release (pg-pool removes a client that is ending).
 */
class EndOnConnectionFailureClient extends pg.Client {
  /** One handler per client, not a closure per query. */
  private readonly endIfBroken = (error: unknown): never => {
    if (isConnectionFailure(error)) this.end().catch(() => undefined);
    throw error;
  };

  override query(...args: unknown[]): never {
    const result = (super.query as (...a: unknown[]) => unknown)(...args);
    if (!(result instanceof Promise)) return result as never; // a cursor or a callback call
    return result.catch(this.endIfBroken) as never;
  }
}

/** MikroORM's PostgreSQL driver on a {@link NodeConnection}. */
export class NodeDriver extends PostgreSqlDriver {
  constructor(config: Configuration) {
    super(config);
    (this as unknown as { connection: NodeConnection }).connection = new NodeConnection(this.config);
  }
}

function guardDialect(dialect: KyselyDialect): KyselyDialect {
  // Kysely's classes keep their state in #private fields: delegate, never inherit
  return {
    createDriver: () => guardDriver(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}

function guardDriver(driver: KyselyDriver): KyselyDriver {
  /** Connections given back early: Kysely's own release, if it ever comes, must not release them twice. */
  const releasedEarly = new WeakSet<object>();
  const giveBack = async (connection: object) => {
    if (releasedEarly.has(connection)) return;
    releasedEarly.add(connection);
    await driver.releaseConnection(connection);
  };
  return {
    init: (...args) => driver.init(...args),
    acquireConnection: (...args) => driver.acquireConnection(...args),
    async beginTransaction(connection, settings) {
      try {
        await driver.beginTransaction(connection, settings);
      } catch (error) {
        await giveBack(connection); // Kysely has not handed it to anyone yet: nobody else can
        throw error;
      }
    },
    async commitTransaction(connection) {
      try {
        await driver.commitTransaction(connection);
      } catch (error) {
        // a live connection gets MikroORM's ROLLBACK next (which releases it); a broken one would not
        if (isConnectionFailure(error)) await giveBack(connection);
        throw error;
      }
    },
    async rollbackTransaction(connection) {
      if (releasedEarly.has(connection)) return; // its transaction ended with the connection
      try {
        await driver.rollbackTransaction(connection);
      } catch (error) {
        await giveBack(connection);
        throw error;
      }
    },
    savepoint: (connection, name, compile) => driver.savepoint!(connection, name, compile),
    rollbackToSavepoint: (connection, name, compile) => driver.rollbackToSavepoint!(connection, name, compile),
    releaseSavepoint: (connection, name, compile) => driver.releaseSavepoint!(connection, name, compile),
    async releaseConnection(connection) {
      if (releasedEarly.has(connection)) return;
      await driver.releaseConnection(connection);
    },
    destroy: () => driver.destroy(),
  };
}

/**
 * The pg options a separate connection to a node needs to connect as its pool does (the node's
 * `NodeConnection`; MikroORM's plain connection options for any other).
 */
export function nodePgOptions(connection: unknown): PoolConfig {
  if (connection instanceof NodeConnection) return connection.poolOptions();
  return (connection as { getConnectionOptions(): PoolConfig }).getConnectionOptions();
}
