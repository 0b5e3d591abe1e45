import { randomBytes } from 'node:crypto';
import { ShardUnavailableError } from '../errors/shard-unavailable.error.js';
import { failureReason } from '../topology/connection-failure.js';
import { LIBRARY_TABLES } from '../topology/library-tables.js';
import type { NodeRegistry } from '../topology/node-registry.js';

/** The library's own table on the first shard: one row per setting every instance must share. */
const METADATA_TABLE = LIBRARY_TABLES.metadata;

const CREATE = `create table if not exists ${METADATA_TABLE} (key text primary key, value text not null)`;
// the first instance to get here writes it; every later one (and every restart) reads that same value
const CLAIM = `insert into ${METADATA_TABLE} (key, value) values ($1, $2) on conflict (key) do nothing`;
const READ = `select value from ${METADATA_TABLE} where key = $1`;
const UNDEFINED_TABLE = '42P01';
const UNIQUE_VIOLATION = '23505';

/**
 * A random secret of the deployment, made once and kept in `sharding_metadata` on the first shard's
 * acting primary: every instance of the application finds the same one, a restart keeps it, and it is
 * never derived from anything a client can see (node addresses, shard names). Asked over the node's
 * control connection, outside any request context.
 */
export async function deploymentSecret(
  registry: NodeRegistry,
  name: string,
  option: string,
  timeoutMs: number,
): Promise<string> {
  const shard = registry.shardNames[0];
  const { primary } = registry.acting(shard);
  const read = async () =>
    (await primary.control.query<{ value: string }>(READ, timeoutMs, [name]))[0]?.value as string | undefined;
  try {
    // a table made by the operator for a user without CREATE rights is only read
    const existing = await read().catch((error: unknown) => {
      if ((error as { code?: unknown }).code === UNDEFINED_TABLE) return undefined;
      throw error;
    });
    if (existing) return existing;
    // two instances creating it at once: the second fails on the type's name, the table exists
    await primary.control.query(CREATE, timeoutMs).catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
    });
    await primary.control.query(CLAIM, timeoutMs, [name, randomBytes(32).toString('base64url')]);
    const value = await read();
    if (!value) throw new Error(`no ${name} row after writing one`);
    return value;
  } catch (error) {
    throw new ShardUnavailableError(
      `The deployment's ${name} is kept in ${METADATA_TABLE} on shard "${shard}"'s primary ${primary.id}, which could not ` +
        `provide it (${failureReason(error)}). Retry once it answers, or set ${option} (the same on every instance) not to depend on it.`,
      shard,
      primary.id,
      { cause: error },
    );
  }
}
