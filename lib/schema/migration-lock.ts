import { createHash } from 'node:crypto';
import pg from 'pg';
import { nodePgOptions } from '../topology/node-driver.js';
import type { ShardNode } from '../topology/shard-node.js';

/** A held migration lock; `release()` never throws. */
export interface MigrationLock {
  release(): Promise<void>;
}

/**
 * The advisory lock key of a migrations ledger: fixed for a table name, the same in every process and
 * every version of the library (a signed 64-bit integer, as `pg_advisory_lock(bigint)` takes it).
 */
export function migrationLockKey(tableName: string): string {
  const digest = createHash('sha256').update(`nestjs-mikro-orm-sharding:migrations:${tableName}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/**
 * Takes the shard's migration lock (`pg_advisory_lock`) on a connection of its own to `node`, which
 * stays open until `release()`: the migrator's statements use the node's pool meanwhile. Waits at most
 * `timeoutMs` for another runner (PostgreSQL's `lock_timeout`), then fails naming the node.
 */
export async function acquireMigrationLock(
  node: ShardNode,
  tableName: string,
  timeoutMs: number,
): Promise<MigrationLock> {
  const options = nodePgOptions(node.orm.em.getConnection());
  const client = new pg.Client({
    ...(options as pg.ClientConfig),
    connectionTimeoutMillis: Math.min(timeoutMs, 30_000),
    application_name: 'nestjs-mikro-orm-sharding migrations',
  });
  client.on('error', () => undefined); // a broken lock connection is seen by the next statement (or release)
  const key = migrationLockKey(tableName);
  try {
    await client.connect();
    await client.query(`set lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    await client.query('select pg_advisory_lock($1::bigint)', [key]);
  } catch (error) {
    await client.end().catch(() => undefined);
    if ((error as { code?: string }).code === '55P03') {
      throw new Error(
        `another runner held the migration lock of ${node.id} (${node.address}) for more than lockTimeoutMs (${timeoutMs} ms); ` +
          'wait for it to finish, or raise migrations.lockTimeoutMs',
        { cause: error },
      );
    }
    throw error;
  }
  let released: Promise<void> | undefined;
  return {
    release: () =>
      (released ??= (async () => {
        // ending the session releases the lock too; the explicit unlock just says so sooner
        await client.query('select pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
        await client.end().catch(() => undefined);
      })()),
  };
}
