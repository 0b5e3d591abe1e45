import { randomBytes } from 'node:crypto';
import { ShardUnavailableError } from '../errors/shard-unavailable.error.js';
import { failureReason } from '../topology/connection-failure.js';
import type { NodeRegistry } from '../topology/node-registry.js';

/** The library's own table on the first shard: one row per setting every instance must share. */
export const METADATA_TABLE = 'sharding_metadata';

const CREATE = `create table if not exists ${METADATA_TABLE} (key text primary key, value text not null)`;
// the first instance to get here writes it; every later one (and every restart) reads that same value
const CLAIM = `insert into ${METADATA_TABLE} (key, value) values ($1, $2) on conflict (key) do nothing`;
const READ = `select value from ${METADATA_TABLE} where key = $1`;

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
  try {
    await primary.control.query(CREATE, timeoutMs);
    await primary.control.query(CLAIM, timeoutMs, [name, randomBytes(32).toString('base64url')]);
    const [row] = await primary.control.query<{ value: string }>(READ, timeoutMs, [name]);
    return row.value;
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
