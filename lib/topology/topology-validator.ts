import { addressKey, describeAddress, nodeAddress } from './node-address.js';

const URL_NODE_KEYS = ['clientUrl'];
const FIELD_NODE_KEYS = ['host', 'port', 'user', 'password', 'dbName'];
const SHARD_KEYS = ['primary', 'replicas', 'primaryShare'];
/** Connection settings are per node: in the shared `mikroOrm` options they would point every node at one server. */
const PER_NODE_MIKRO_ORM_KEYS = [
  'clientUrl',
  'host',
  'port',
  'user',
  'password',
  'dbName',
  'replicas',
  'preferReadReplicas',
  'driver',
  'contextName',
];

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const list = (keys: readonly string[]) => keys.join(', ');

/**
 * Checks the `shards` and `mikroOrm` options and returns **every** problem (empty when valid). Messages name
 * the option path and how to fix it, and never include a password or a raw connection URL.
 */
export function findTopologyProblems(options: unknown): string[] {
  if (!isObject(options))
    return ['the options must be an object: { shards: { s0: { primary: { clientUrl } } }, mikroOrm: { entities } }'];
  return [...shardsProblems(options.shards), ...mikroOrmProblems(options.mikroOrm)];
}

function shardsProblems(shards: unknown): string[] {
  if (!isObject(shards) || Object.keys(shards).length === 0) {
    return [
      '"shards" must name at least one shard, e.g. shards: { s0: { primary: { clientUrl: "postgresql://app@db0:5432/app" } } }',
    ];
  }
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const [name, shard] of Object.entries(shards)) {
    const path = `shards.${name}`;
    if (!name.trim()) problems.push(`a shard has an empty name: give every shard a non-blank name like "s0"`);
    if (!isObject(shard)) {
      problems.push(`${path} must be an object { primary, replicas? }`);
      continue;
    }
    for (const key of Object.keys(shard)) {
      if (!SHARD_KEYS.includes(key)) problems.push(`${path} has unknown key "${key}" (allowed: ${list(SHARD_KEYS)})`);
    }
    if (shard.primary === undefined)
      problems.push(`${path} has no primary: add primary: { clientUrl } or { host, port, user, password, dbName }`);
    else problems.push(...nodeProblems(`${path}.primary`, shard.primary, false, seen));
    if (shard.primaryShare !== undefined && !isShare(shard.primaryShare)) {
      problems.push(`${path}.primaryShare must be a number from 0 to 1 (got ${JSON.stringify(shard.primaryShare)})`);
    }
    if (shard.replicas !== undefined && !Array.isArray(shard.replicas)) {
      problems.push(`${path}.replicas must be an array of nodes`);
    } else {
      (shard.replicas ?? []).forEach((replica: unknown, i: number) =>
        problems.push(...nodeProblems(`${path}.replicas[${i}]`, replica, true, seen)),
      );
    }
  }
  return problems;
}

function nodeProblems(path: string, node: unknown, isReplica: boolean, seen: Map<string, string>): string[] {
  if (!isObject(node)) return [`${path} must be an object: { clientUrl } or { host, port, user, password, dbName }`];
  const problems: string[] = [];
  const byUrl = 'clientUrl' in node;
  const allowed = [...(byUrl ? URL_NODE_KEYS : FIELD_NODE_KEYS), ...(isReplica ? ['weight'] : [])];
  for (const key of Object.keys(node)) {
    if (allowed.includes(key)) continue;
    const hint =
      byUrl && FIELD_NODE_KEYS.includes(key)
        ? ' (give either clientUrl or host/port/user/password/dbName, not both)'
        : ` (allowed: ${list(allowed)})`;
    problems.push(`${path} has unknown key "${key}"${hint}`);
  }
  if (byUrl) {
    if (typeof node.clientUrl !== 'string' || !nodeAddress({ clientUrl: node.clientUrl })) {
      problems.push(
        `${path}.clientUrl is not a postgresql:// URL (expected postgresql://user:password@host:5432/dbname)`,
      );
    }
  } else {
    if (typeof node.host !== 'string' || !node.host) problems.push(`${path}.host must be a non-empty string`);
    if (!Number.isInteger(node.port) || (node.port as number) < 1 || (node.port as number) > 65535) {
      problems.push(`${path}.port must be an integer from 1 to 65535`);
    }
    if (typeof node.dbName !== 'string' || !node.dbName) problems.push(`${path}.dbName must name the database`);
    for (const key of ['user', 'password']) {
      if (node[key] !== undefined && typeof node[key] !== 'string') problems.push(`${path}.${key} must be a string`);
    }
  }
  if (
    node.weight !== undefined &&
    !(typeof node.weight === 'number' && Number.isFinite(node.weight) && node.weight > 0)
  ) {
    problems.push(`${path}.weight must be a positive number`);
  }
  if (problems.length) return problems;
  const address = nodeAddress(node as never)!;
  if (byUrl && !address.dbName) return [`${path}.clientUrl names no database: end it with /dbname`];
  const key = addressKey(address);
  const other = seen.get(key);
  if (other)
    problems.push(
      `${path} and ${other} are the same node (${describeAddress(address)}): every node must be a distinct server or database`,
    );
  else seen.set(key, path);
  return problems;
}

function mikroOrmProblems(mikroOrm: unknown): string[] {
  if (mikroOrm === undefined) return ['"mikroOrm" is missing: pass at least mikroOrm: { entities: [...] }'];
  if (!isObject(mikroOrm)) return ['"mikroOrm" must be an object of MikroORM options shared by all nodes'];
  const problems = PER_NODE_MIKRO_ORM_KEYS.filter((key) => key in mikroOrm).map((key) =>
    key === 'driver' || key === 'contextName'
      ? `mikroOrm.${key} is set by ShardingModule (PostgreSQL driver, one context per node): remove it`
      : `mikroOrm.${key} is a per-node setting: put connection details in shards.<name>.primary / replicas instead`,
  );
  const entities = mikroOrm.entities;
  if (!Array.isArray(entities) || entities.length === 0) problems.push('mikroOrm.entities must list your entities');
  return problems;
}

/** A fraction of reads: a number from 0 to 1. */
export function isShare(value: unknown): boolean {
  return typeof value === 'number' && value >= 0 && value <= 1;
}
