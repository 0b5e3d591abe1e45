// Module
export { ShardingModule } from './module/sharding.module.js';
export { SHARDING_MODULE_OPTIONS } from './module/sharding.constants.js';
export type { ResolvedShardingOptions } from './module/sharding-defaults.js';
export type { ShardingModuleOptions } from './module/sharding-options.interface.js';
export type { ShardingFeatureEntities } from './module/sharding-feature.js';

// Topology
export { NodeRegistry } from './topology/node-registry.js';
export type { ShardNodes } from './topology/node-registry.js';
export type { ShardNode, NodeRole } from './topology/shard-node.js';
export type { NodeProbe } from './topology/node-probe.js';
export type { ShardingMikroOrmOptions } from './topology/node-orm.factory.js';
export type {
  NodeConnectionConfig,
  NodeFieldsConfig,
  NodeUrlConfig,
  ReplicaConfig,
  ShardConfig,
  ShardsConfig,
} from './topology/shard-config.js';

// Replication and schema
export { waitForReplicas } from './replication/wait-for-replicas.js';
export type { WaitForReplicasOptions } from './replication/wait-for-replicas.js';
export { ShardingSchema } from './schema/sharding-schema.js';
export type { SchemaSyncOptions } from './schema/sharding-schema.js';
export { ShardingMigrator } from './schema/sharding-migrator.js';
export type { CreateMigrationOptions, MigrateDownOptions, MigrateUpOptions } from './schema/sharding-migrator.js';
export type {
  DriftReport,
  ShardDrift,
  ShardingMigrationsOptions,
  ShardMigrationResult,
  ShardMigrationStatus,
} from './schema/migration.types.js';
export { MigrationError } from './errors/migration.error.js';

// Errors
export { ShardingError } from './errors/sharding.error.js';
export { ShardingConfigError } from './errors/sharding-config.error.js';
export { UnknownNodeError } from './errors/unknown-node.error.js';
export { ReplicationTimeoutError } from './errors/replication-timeout.error.js';
export { EmbeddedTopologyError } from './errors/embedded-topology.error.js';

// Routing
export { ShardedEntityManager } from './context/sharded-entity-manager.js';
export type { CurrentRoute } from './context/sharded-entity-manager.js';
export { ShardingService } from './context/sharding.service.js';
export type { RunOptions, RunTarget } from './context/sharding.service.js';
export { ShardingInterceptor } from './context/sharding.interceptor.js';
// publicBody: the filter's status and words, for a filter or error formatter of your own (GraphQL, RPC)
export { ShardingMiddleware } from './context/sharding.middleware.js';
export { ShardingContextGuard } from './context/sharding-context.guard.js';
export { CONTEXT_DEFAULTS } from './context/context-mount.js';
export type { ContextMount, ShardingContextOptions } from './context/context-mount.js';
export { ShardingExceptionFilter, publicBody } from './context/sharding-exception.filter.js';
export type { ShardingErrorBody } from './context/sharding-exception.filter.js';
export { ShardBy } from './decorators/shard-by.decorator.js';
export { ShardKey } from './decorators/shard-key.decorator.js';
export { ReadReplica } from './decorators/read-replica.decorator.js';
export { UsePrimary } from './decorators/use-primary.decorator.js';
export type { ShardKeySpec } from './decorators/key-extractor.js';
export { hashStrategy } from './routing/hash-strategy.js';
export type { HashStrategy, HashStrategyOptions } from './routing/hash-strategy.js';
export { rangeStrategy } from './routing/range-strategy.js';
export type { KeyRange } from './routing/range-strategy.js';
export { moduloStrategy } from './routing/modulo-strategy.js';
export { lookupStrategy } from './routing/lookup-strategy.js';
export type { LookupStrategyOptions } from './routing/lookup-strategy.js';
export type { ShardStrategy, ShardStrategyOption } from './routing/shard-strategy.js';
export type { ShardKeyValue } from './routing/shard-key.js';
export type { ReplicaBalancer, BalancerName } from './routing/replica-balancer.js';
export type { ReadReplicaOptions } from './routing/read-replica-options.js';

// Ids
export { ShardIdGenerator } from './ids/shard-id-generator.js';
export type { ShardIdGeneratorOptions } from './ids/shard-id-generator.js';
export { snowflakeStrategy } from './ids/snowflake-strategy.js';
export { decodeShardId, DEFAULT_ID_LAYOUT } from './ids/shard-id-layout.js';
export type { ShardIdLayout, DecodedShardId } from './ids/shard-id-layout.js';

// Routing errors
export { NoShardContextError } from './errors/no-shard-context.error.js';
export { ShardKeyMissingError } from './errors/shard-key-missing.error.js';
export { ReadOnlyContextError } from './errors/read-only-context.error.js';
export { ShardLockError } from './errors/shard-lock.error.js';
export { InvalidRouteError } from './errors/invalid-route.error.js';
export { ShardRoutingError } from './errors/shard-routing.error.js';

// Replicas: health, lag, read-your-writes, failover
export { ShardUnavailableError } from './errors/shard-unavailable.error.js';
export { CommitOutcomeUnknownError } from './errors/commit-outcome-unknown.error.js';
export { MisplacedEntityError } from './errors/misplaced-entity.error.js';
export type { ShardedSession } from './context/sharded-session.js';
export type { EntityShardKey, ShardKeysOption } from './routing/entity-shard-key.js';
export { InvalidConsistencyTokenError } from './errors/invalid-consistency-token.error.js';
export { ReplicationMonitor } from './replication/replication-monitor.js';
export type { HealthMonitorOptions } from './replication/health-options.js';
export type { NodeHealthReport, NodeCounters } from './topology/node-health.js';

// Cross-shard queries
export { CrossShardQuery } from './cross-shard/cross-shard-query.service.js';
export type { CrossShardStream } from './cross-shard/cross-shard-stream.js';
export type {
  AggregateRow,
  CrossShardAggregateOptions,
  CrossShardCallOptions,
  CrossShardCursorOptions,
  CrossShardFindOptions,
  CrossShardOptions,
  CrossShardPage,
  CrossShardResult,
  CrossShardStreamOptions,
  ShardFailurePolicy,
} from './cross-shard/cross-shard.options.js';
export { CrossShardBoundError, CrossShardQueryError } from './errors/cross-shard-query.error.js';
export type { ShardFailure } from './errors/cross-shard-query.error.js';
export { InvalidCursorError } from './errors/invalid-cursor.error.js';
export { defineShardingConfig } from './cli/define-sharding-config.js';

// Cross-shard transactions and reference tables
export { CrossShardTransaction } from './decorators/cross-shard-transaction.decorator.js';
export { ReferenceTables } from './transactions/reference-tables.js';
export type { ReferenceTableCheck, ReferenceTablesReport } from './transactions/reference-tables.js';
export type { RecoveryReport, PreparedPart } from './transactions/transaction-recovery.js';
export type { CrossShardTransactionOptions, ShardingTransactionsOptions } from './transactions/transaction-options.js';
export { CrossShardTransactionError } from './errors/cross-shard-transaction.error.js';
export type { CrossShardOutcome } from './errors/cross-shard-transaction.error.js';
export { InvalidTransactionError } from './errors/invalid-transaction.error.js';
export { ReferenceWriteError } from './errors/reference-write.error.js';
