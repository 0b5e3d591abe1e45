import type { CrossShardOptions } from '../cross-shard/cross-shard.options.js';
import { DEFAULT_ID_LAYOUT, type ShardIdLayout } from '../ids/shard-id-layout.js';
import type { HealthMonitorOptions } from '../replication/health-options.js';
import { hashStrategy } from '../routing/hash-strategy.js';
import type { ReadReplicaOptions } from '../routing/read-replica-options.js';
import type { ShardKeysOption } from '../routing/entity-shard-key.js';
import type { ShardStrategyOption } from '../routing/shard-strategy.js';
import type { ShardingMigrationsOptions } from '../schema/migration.types.js';
import type { ShardingModuleOptions } from './sharding-options.interface.js';
import type { EntityName } from '@mikro-orm/core';
import type { ShardingTransactionsOptions } from '../transactions/transaction-options.js';

/**
 * Every default of the module's options, in one place (the TSDoc `@default`s say the same). The parts
 * built on their own (`ReplicationMonitor`, `CrossShardQuery`, `ShardingMigrator`) fall back to these too.
 */
export const SHARDING_DEFAULTS = {
  hashBuckets: 1024,
  lockShard: false,
  readReplicas: {
    balancer: 'round-robin',
    primaryShare: 0,
    readYourWrites: true,
    monotonicReads: false,
    consistencyHeader: 'x-shard-consistency',
    whenNoReplica: 'primary',
  },
  health: { intervalMs: 1_000, timeoutMs: 2_000, enabled: true },
  ids: { workerId: 0 },
  crossShard: {
    concurrency: 8,
    timeoutMs: 30_000,
    onShardFailure: 'fail',
    streamBatchSize: 1_000,
    maxOffset: 1_000,
    maxRows: 10_000,
  },
  /** Applied when the `migrations` option is given (without it nothing is verified at start). */
  migrations: { concurrency: 4, lockTimeoutMs: 60_000, replicaTimeoutMs: 30_000, verifyOnStart: 'warn' },
  /** `verifyOnStart` is on when the option is given or reference entities are configured. */
  transactions: { timeoutMs: 60_000, recoveryIntervalMs: 30_000, recoverOnStart: true, graceMs: 10_000 },
} as const;

type WithDefaults<T, Optional extends keyof T = never> = Required<Omit<T, Optional>> & Pick<T, Optional>;

/**
 * The module's options with every default applied: what `SHARDING_MODULE_OPTIONS` gives. The
 * deprecated `lockRequestToOneShard` is folded into `lockShard`.
 */
export interface ResolvedShardingOptions extends Omit<ShardingModuleOptions, 'lockRequestToOneShard'> {
  strategy: ShardStrategyOption;
  readReplicas: WithDefaults<ReadReplicaOptions, 'maxLagMs'>;
  health: Required<HealthMonitorOptions>;
  lockShard: boolean;
  ids: { workerId: number; layout: ShardIdLayout };
  shardKeys: ShardKeysOption;
  /** `shardKeys` holds the module's property shard keys, overridden by `crossShard.shardKeys`. */
  crossShard: WithDefaults<CrossShardOptions, 'cursorSecret'>;
  /** Undefined without a `migrations` option; with one, the fleet settings' defaults are applied. */
  migrations?: ShardingMigrationsOptions & WithDefaults<FleetDefaults>;
  transactions: Required<ShardingTransactionsOptions>;
  referenceEntities: EntityName[];
}

type FleetDefaults = Pick<
  ShardingMigrationsOptions,
  'concurrency' | 'lockTimeoutMs' | 'replicaTimeoutMs' | 'verifyOnStart'
>;

/** Applies every default to validated options (see `validateShardingOptions`). Pure: the input is not changed. */
export function applyShardingDefaults(options: ShardingModuleOptions): ResolvedShardingOptions {
  const { lockRequestToOneShard, ...rest } = options;
  const { lockShard, readReplicas, health, ids, shardKeys = {}, crossShard, migrations, transactions } = rest;
  const referenceEntities = rest.referenceEntities ?? [];
  const replicas = { ...SHARDING_DEFAULTS.readReplicas, ...defined(readReplicas) };
  return {
    ...rest,
    strategy: options.strategy ?? hashStrategy({ buckets: SHARDING_DEFAULTS.hashBuckets }),
    lockShard: lockShard ?? lockRequestToOneShard ?? SHARDING_DEFAULTS.lockShard,
    readReplicas: { ...replicas, consistencyHeader: replicas.consistencyHeader.toLowerCase() },
    health: { ...SHARDING_DEFAULTS.health, ...defined(health) },
    ids: {
      workerId: ids?.workerId ?? SHARDING_DEFAULTS.ids.workerId,
      layout: { ...DEFAULT_ID_LAYOUT, ...defined(ids?.layout) },
    },
    shardKeys,
    crossShard: {
      ...SHARDING_DEFAULTS.crossShard,
      ...defined(crossShard),
      // narrowing needs a property; a function key cannot narrow a query's `where`
      shardKeys: { ...propertyKeys(shardKeys), ...crossShard?.shardKeys },
    },
    migrations: migrations && { ...SHARDING_DEFAULTS.migrations, ...defined(migrations) },
    transactions: {
      ...SHARDING_DEFAULTS.transactions,
      verifyOnStart: transactions !== undefined || referenceEntities.length > 0,
      ...defined(transactions),
    },
    referenceEntities,
  };
}

/** The entries that are set: `{ maxRows: undefined }` keeps the default, as an absent key does. */
function defined<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function propertyKeys(keys: ShardKeysOption): Record<string, string> {
  return Object.fromEntries(
    Object.entries(keys).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}
