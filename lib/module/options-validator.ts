import { Logger } from '@nestjs/common';
import { ShardingConfigError } from '../errors/sharding-config.error.js';
import { ShardIdGenerator } from '../ids/shard-id-generator.js';
import { DEFAULT_ID_LAYOUT, type ShardIdLayout } from '../ids/shard-id-layout.js';
import { BALANCER_NAMES } from '../routing/replica-balancer.js';
import { toShardStrategy } from '../routing/shard-strategy.js';
import { FLEET_MIGRATION_KEYS, MIKRO_ORM_MIGRATION_KEYS } from '../schema/migration-config.js';
import { findTopologyProblems, isShare } from '../topology/topology-validator.js';
import { applyShardingDefaults, type ResolvedShardingOptions } from './sharding-defaults.js';
import type { ShardingModuleOptions } from './sharding-options.interface.js';

const OPTION_KEYS = [
  'shards',
  'shardKeys',
  'mikroOrm',
  'strategy',
  'readReplicas',
  'health',
  'lockShard',
  'lockRequestToOneShard',
  'ids',
  'crossShard',
  'migrations',
  'transactions',
  'referenceEntities',
];
const TRANSACTION_KEYS = ['timeoutMs', 'recoveryIntervalMs', 'recoverOnStart', 'graceMs', 'verifyOnStart'];
const READ_REPLICA_KEYS = [
  'balancer',
  'primaryShare',
  'maxLagMs',
  'readYourWrites',
  'monotonicReads',
  'consistencyHeader',
  'whenNoReplica',
];
const HEALTH_KEYS = ['intervalMs', 'timeoutMs', 'enabled'];
const CROSS_SHARD_KEYS = [
  'shardKeys',
  'concurrency',
  'timeoutMs',
  'onShardFailure',
  'cursorSecret',
  'streamBatchSize',
  'maxOffset',
  'maxRows',
];

/**
 * The user's options → the resolved ones: validated (one `ShardingConfigError` listing every problem),
 * a deprecated name warned about once, then every default applied.
 */
export function resolveShardingOptions(
  options: ShardingModuleOptions,
  logger = new Logger('ShardingModule'),
): ResolvedShardingOptions {
  validateShardingOptions(options);
  if (options?.lockRequestToOneShard !== undefined) {
    logger.warn(
      'The lockRequestToOneShard option is deprecated: rename it to lockShard (same meaning). It will be removed in 0.5.0.',
    );
  }
  return applyShardingDefaults(options);
}

/** Validates every module option at once; throws one `ShardingConfigError` listing all problems. */
export function validateShardingOptions(options: ShardingModuleOptions): void {
  const problems = findTopologyProblems(options);
  if (typeof options === 'object' && options !== null) {
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.includes(key)) problems.unshift(`unknown option "${key}" (allowed: ${OPTION_KEYS.join(', ')})`);
    }
    problems.push(
      ...strategyProblems(options),
      ...replicaProblems(options),
      ...healthProblems(options),
      ...idProblems(options),
      ...crossShardProblems(options),
      ...shardKeyProblems(options),
      ...lockProblems(options),
      ...migrationProblems(options),
      ...transactionProblems(options),
    );
  }
  if (problems.length) throw new ShardingConfigError(problems);
}

function lockProblems({ lockShard, lockRequestToOneShard }: ShardingModuleOptions): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries({ lockShard, lockRequestToOneShard })) {
    if (value !== undefined && typeof value !== 'boolean')
      problems.push(`${name} must be true or false (got ${JSON.stringify(value)})`);
  }
  if (lockShard !== undefined && lockRequestToOneShard !== undefined && lockShard !== lockRequestToOneShard) {
    problems.push('lockShard and lockRequestToOneShard (its deprecated name) disagree: keep lockShard only');
  }
  return problems;
}

function shardKeyProblems({ shardKeys }: ShardingModuleOptions): string[] {
  if (shardKeys === undefined) return [];
  if (typeof shardKeys !== 'object' || shardKeys === null)
    return ['shardKeys must map entity names to properties or functions'];
  const bad = Object.entries(shardKeys)
    .filter(([, where]) => !(typeof where === 'function' || (typeof where === 'string' && where !== '')))
    .map(([entity]) => entity);
  return bad.length
    ? [`shardKeys maps entity names to a property name or a function of the entity; fix ${bad.join(', ')}`]
    : [];
}

function strategyProblems({ strategy, shards }: ShardingModuleOptions): string[] {
  if (strategy === undefined) return [];
  if (typeof strategy !== 'function' && typeof (strategy as { shardFor?: unknown })?.shardFor !== 'function') {
    return [
      'strategy must be a strategy (hashStrategy(), rangeStrategy([...]), ...) or a function (key) => shard name',
    ];
  }
  try {
    toShardStrategy(strategy).validate?.(Object.keys(shards ?? {}));
    return [];
  } catch (error) {
    return [`strategy: ${(error as Error).message}`];
  }
}

function replicaProblems({ readReplicas }: ShardingModuleOptions): string[] {
  if (readReplicas === undefined) return [];
  if (typeof readReplicas !== 'object' || readReplicas === null) return ['readReplicas must be an object'];
  const problems = unknownKeys('readReplicas', readReplicas, READ_REPLICA_KEYS);
  const { balancer, maxLagMs, readYourWrites, monotonicReads, consistencyHeader, whenNoReplica } = readReplicas;
  if (balancer !== undefined && typeof balancer !== 'function' && !BALANCER_NAMES.includes(balancer)) {
    problems.push(
      `readReplicas.balancer must be one of ${BALANCER_NAMES.join(', ')} or a function (replicas, shard) => replica (got ${JSON.stringify(balancer)})`,
    );
  }
  const { primaryShare } = readReplicas;
  if (primaryShare !== undefined && !isShare(primaryShare)) {
    problems.push(`readReplicas.primaryShare must be a number from 0 to 1 (got ${JSON.stringify(primaryShare)})`);
  }
  if (maxLagMs !== undefined && !(typeof maxLagMs === 'number' && maxLagMs >= 0)) {
    problems.push(`readReplicas.maxLagMs must be a number of milliseconds >= 0 (got ${JSON.stringify(maxLagMs)})`);
  }
  if (readYourWrites !== undefined && typeof readYourWrites !== 'boolean') {
    problems.push(`readReplicas.readYourWrites must be true or false (got ${JSON.stringify(readYourWrites)})`);
  }
  if (
    consistencyHeader !== undefined &&
    !(typeof consistencyHeader === 'string' && /^[A-Za-z0-9-]+$/.test(consistencyHeader))
  ) {
    problems.push(
      `readReplicas.consistencyHeader must be an HTTP header name (got ${JSON.stringify(consistencyHeader)})`,
    );
  }
  if (monotonicReads !== undefined && typeof monotonicReads !== 'boolean') {
    problems.push(`readReplicas.monotonicReads must be true or false (got ${JSON.stringify(monotonicReads)})`);
  } else if (monotonicReads && readYourWrites === false) {
    problems.push('readReplicas.monotonicReads needs readYourWrites (the positions travel in its consistency token)');
  }
  if (whenNoReplica !== undefined && whenNoReplica !== 'primary' && whenNoReplica !== 'fail') {
    problems.push(`readReplicas.whenNoReplica must be 'primary' or 'fail' (got ${JSON.stringify(whenNoReplica)})`);
  }
  return problems;
}

function healthProblems({ health }: ShardingModuleOptions): string[] {
  if (health === undefined) return [];
  if (typeof health !== 'object' || health === null) return ['health must be an object'];
  const problems = unknownKeys('health', health, HEALTH_KEYS);
  for (const key of ['intervalMs', 'timeoutMs'] as const) {
    const value = health[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= 10)) {
      problems.push(`health.${key} must be a whole number of milliseconds >= 10 (got ${JSON.stringify(value)})`);
    }
  }
  if (health.enabled !== undefined && typeof health.enabled !== 'boolean') {
    problems.push(`health.enabled must be true or false (got ${JSON.stringify(health.enabled)})`);
  }
  return problems;
}

function unknownKeys(option: string, value: object, allowed: readonly string[]): string[] {
  return Object.keys(value)
    .filter((key) => !allowed.includes(key))
    .map((key) => `unknown option "${option}.${key}" (allowed: ${allowed.join(', ')})`);
}

function idProblems({ ids, shards, strategy }: ShardingModuleOptions): string[] {
  const strategyLayout = (strategy as { layout?: ShardIdLayout } | undefined)?.layout;
  if (strategyLayout) {
    const generatorLayout = { ...DEFAULT_ID_LAYOUT, ...ids?.layout };
    const differs = (Object.keys(generatorLayout) as (keyof ShardIdLayout)[]).filter(
      (k) => generatorLayout[k] !== strategyLayout[k],
    );
    if (differs.length) {
      return [
        `ids.layout and snowflakeStrategy() disagree on ${differs.join(', ')}: ids would route to the wrong shard; give both the same layout`,
      ];
    }
  }
  if (ids === undefined) return [];
  try {
    new ShardIdGenerator({ shards: Object.keys(shards ?? {}), workerId: ids.workerId, layout: ids.layout });
    return [];
  } catch (error) {
    return [`ids: ${(error as Error).message}`];
  }
}

function crossShardProblems({ crossShard }: ShardingModuleOptions): string[] {
  if (crossShard === undefined) return [];
  if (typeof crossShard !== 'object' || crossShard === null) return ['crossShard must be an object'];
  const problems = unknownKeys('crossShard', crossShard, CROSS_SHARD_KEYS);
  const { shardKeys, concurrency, timeoutMs, onShardFailure, cursorSecret, streamBatchSize, maxOffset, maxRows } =
    crossShard;
  const positiveInteger = (value: unknown) => Number.isInteger(value) && (value as number) >= 1;
  if (shardKeys !== undefined) {
    const bad =
      typeof shardKeys !== 'object' || shardKeys === null
        ? ['(not an object)']
        : Object.entries(shardKeys)
            .filter(([, property]) => typeof property !== 'string' || !property)
            .map(([e]) => e);
    if (bad.length) problems.push(`crossShard.shardKeys maps entity names to property names; fix ${bad.join(', ')}`);
  }
  if (concurrency !== undefined && !positiveInteger(concurrency)) {
    problems.push(`crossShard.concurrency must be an integer >= 1 (got ${String(concurrency)})`);
  }
  if (maxOffset !== undefined && !(Number.isSafeInteger(maxOffset) && (maxOffset as number) >= 0)) {
    problems.push(`crossShard.maxOffset must be an integer >= 0 (got ${String(maxOffset)})`);
  }
  if (maxRows !== undefined && !positiveInteger(maxRows)) {
    problems.push(`crossShard.maxRows must be an integer >= 1 (got ${String(maxRows)})`);
  }
  if (streamBatchSize !== undefined && !positiveInteger(streamBatchSize)) {
    problems.push(`crossShard.streamBatchSize must be an integer >= 1 (got ${String(streamBatchSize)})`);
  }
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs))) {
    problems.push(`crossShard.timeoutMs must be a positive number of milliseconds (got ${String(timeoutMs)})`);
  }
  if (onShardFailure !== undefined && onShardFailure !== 'fail' && onShardFailure !== 'partial') {
    problems.push(`crossShard.onShardFailure must be 'fail' or 'partial' (got ${JSON.stringify(onShardFailure)})`);
  }
  if (cursorSecret !== undefined && (typeof cursorSecret !== 'string' || cursorSecret.length < 16)) {
    problems.push('crossShard.cursorSecret must be a string of at least 16 characters');
  }
  return problems;
}

const MIGRATION_KEYS: readonly string[] = [...MIKRO_ORM_MIGRATION_KEYS, ...FLEET_MIGRATION_KEYS];
const VERIFY_ON_START = ['off', 'warn', 'fail'];

function migrationProblems({ migrations, shards }: ShardingModuleOptions): string[] {
  if (migrations === undefined) return [];
  if (typeof migrations !== 'object' || migrations === null) return ['migrations must be an object'];
  const problems = unknownKeys('migrations', migrations, MIGRATION_KEYS);
  const { canary, verifyOnStart } = migrations;
  const shardNames = Object.keys(shards ?? {});
  if (canary !== undefined && !(typeof canary === 'string' && shardNames.includes(canary))) {
    problems.push(
      `migrations.canary must be a configured shard (${shardNames.join(', ') || 'none configured'}; got ${JSON.stringify(canary)})`,
    );
  }
  for (const key of ['concurrency', 'lockTimeoutMs', 'replicaTimeoutMs'] as const) {
    const value = migrations[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1)) {
      problems.push(`migrations.${key} must be an integer >= 1 (got ${JSON.stringify(value)})`);
    }
  }
  if (verifyOnStart !== undefined && !VERIFY_ON_START.includes(verifyOnStart)) {
    problems.push(`migrations.verifyOnStart must be 'off', 'warn' or 'fail' (got ${JSON.stringify(verifyOnStart)})`);
  }
  if (migrations.snapshot === true) {
    // one snapshot file per database name, rewritten by every shard's run: create() would diff against it
    problems.push(
      'migrations.snapshot cannot be used across shards: create() diffs the entities against the canary shard',
    );
  }
  return problems;
}

function transactionProblems({ transactions, referenceEntities, shardKeys }: ShardingModuleOptions): string[] {
  const problems: string[] = [];
  if (referenceEntities !== undefined && !Array.isArray(referenceEntities))
    problems.push('referenceEntities must be an array of entities');
  for (const entity of Array.isArray(referenceEntities) ? referenceEntities : []) {
    const name = (entity as { name?: string } | undefined)?.name;
    if (name && shardKeys && name in shardKeys)
      problems.push(
        `${name} is in both referenceEntities (a copy on every shard) and shardKeys (one shard per row); keep one`,
      );
  }
  if (transactions === undefined) return problems;
  if (typeof transactions !== 'object' || transactions === null) return [...problems, 'transactions must be an object'];
  problems.push(...unknownKeys('transactions', transactions, TRANSACTION_KEYS));
  for (const key of ['timeoutMs', 'graceMs'] as const) {
    const value = transactions[key];
    if (value !== undefined && !(Number.isFinite(value) && value > 0))
      problems.push(`transactions.${key} must be a number of milliseconds above 0 (got ${JSON.stringify(value)})`);
  }
  const interval = transactions.recoveryIntervalMs;
  if (interval !== undefined && !(Number.isFinite(interval) && interval >= 0))
    problems.push(
      `transactions.recoveryIntervalMs must be 0 (off) or a number of milliseconds (got ${JSON.stringify(interval)})`,
    );
  return problems;
}
