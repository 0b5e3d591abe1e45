import type { CrossShardOptions } from '../cross-shard/cross-shard.options.js';
import type { ShardIdLayout } from '../ids/shard-id-layout.js';
import type { HealthMonitorOptions } from '../replication/health-options.js';
import type { ReadReplicaOptions } from '../routing/read-replica-options.js';
import type { ShardKeysOption } from '../routing/entity-shard-key.js';
import type { ShardStrategyOption } from '../routing/shard-strategy.js';
import type { ShardingMigrationsOptions } from '../schema/migration.types.js';
import type { ShardingMikroOrmOptions } from '../topology/node-orm.factory.js';
import type { ShardsConfig } from '../topology/shard-config.js';
import type { EntityName } from '@mikro-orm/core';
import type { ShardingTransactionsOptions } from '../transactions/transaction-options.js';

/** Options of `ShardingModule.forRoot()` / `forRootAsync()`. */
export interface ShardingModuleOptions {
  /**
   * The topology: shard name → its primary and streaming replicas, each as `{ clientUrl }` or
   * `{ host, port, user, password, dbName }` (replicas may add `weight`).
   */
  shards: ShardsConfig;
  /**
   * MikroORM options shared by every node (entities, naming strategy, debug, pool, ...).
   * Connection fields, `replicas`, `driver` and `contextName` are set per node by the module.
   */
  mikroOrm: ShardingMikroOrmOptions;
  /**
   * Key → shard: `hashStrategy()`, `rangeStrategy()`, `moduloStrategy()`, `lookupStrategy()`,
   * `snowflakeStrategy()`, or any function `(key) => shardName`.
   * @default hashStrategy({ buckets: 1024 })
   */
  strategy?: ShardStrategyOption;
  /**
   * Which replicas serve reads and how they are spread: balancer, `maxLagMs`, read-your-writes by WAL
   * position (consistency token), what happens when none is eligible.
   * @default { balancer: 'round-robin', readYourWrites: true, whenNoReplica: 'primary', consistencyHeader: 'x-shard-consistency' }
   */
  readReplicas?: ReadReplicaOptions;
  /** The background health monitor of every node. @default { intervalMs: 1000, timeoutMs: 2000, enabled: true } */
  health?: HealthMonitorOptions;
  /**
   * Lock each routing context (an HTTP request, a `run()` or `withContext()` that opens one, a top-level
   * routed call) to the first shard it touches: a second shard throws `ShardLockError`, like Rails'
   * shard selector lock. `run()` and `withContext()` take the same `lockShard` option for their context.
   * @default false
   */
  lockShard?: boolean;
  /**
   * The former name of `lockShard`; still honoured (with a warning at start) in 0.4.
   * @deprecated Since 0.4.0: rename it to `lockShard`. It will be removed in 0.5.0.
   */
  lockRequestToOneShard?: boolean;
  /** Settings of the injectable `ShardIdGenerator`. */
  ids?: {
    /** This process's worker id (distinct per process). @default 0 */
    workerId?: number;
    layout?: Partial<ShardIdLayout>;
  };
  /**
   * Entity name → where its shard key is: a property (`User: 'id'`; a relation gives the related
   * entity's primary key: `Order: 'user'`) or a function of the entity. Used to place every new or
   * moved entity on its own shard (a flush that would write it to another shard is refused with
   * `MisplacedEntityError`) and to narrow cross-shard queries (property keys).
   * @default {}
   */
  shardKeys?: ShardKeysOption;
  /**
   * Cross-shard queries (`CrossShardQuery`): which property is each entity's shard key (so a
   * `where` on it does not fan out), concurrency, per-shard timeout, failure policy, cursor secret.
   * @default { shardKeys: {}, concurrency: 8, timeoutMs: 30000, onShardFailure: 'fail', streamBatchSize: 1000 }
   */
  crossShard?: CrossShardOptions;
  /**
   * Migrations on every shard (`ShardingMigrator`): MikroORM's own `migrations` settings (`path`, `pathTs`,
   * `tableName`, `transactional`, ...), used by every node's ORM, plus how a run goes across the fleet:
   * the `canary` shard first, then `concurrency` shards at a time, the per-shard lock's `lockTimeoutMs`,
   * the wait for replicas (`replicaTimeoutMs`).
   * @default { canary: first shard, concurrency: 4, lockTimeoutMs: 60000, replicaTimeoutMs: 30000, verifyOnStart: 'warn', snapshot: false }
   */
  migrations?: ShardingMigrationsOptions;
  /**
   * Cross-shard transactions (`ShardingService.transaction()`, `@CrossShardTransaction()`): default timeout,
   * recovery of what a crash left prepared (schedule, grace period), the start check of
   * `max_prepared_transactions`. Transactions work without it; giving it turns the start check on.
   * @default { timeoutMs: 60000, recoveryIntervalMs: 30000, recoverOnStart: true, graceMs: 10000 }
   */
  transactions?: ShardingTransactionsOptions;
  /**
   * Small tables copied on every shard (currencies, plans, countries) so routed calls join them locally:
   * changed only through `ReferenceTables.write()` (atomic on every shard), compared by `verify()`.
   * @default []
   */
  referenceEntities?: EntityName[];
}
