import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ShardedEntityManager } from '../context/sharded-entity-manager.js';
import { ShardingRuntime } from '../context/sharding-runtime.js';
import { ShardingInterceptor } from '../context/sharding.interceptor.js';
import { ShardingService } from '../context/sharding.service.js';
import { CrossShardQuery } from '../cross-shard/cross-shard-query.service.js';
import { guardQuery } from '../context/write-guard.js';
import { ReplicationMonitor } from '../replication/replication-monitor.js';
import { ShardIdGenerator } from '../ids/shard-id-generator.js';
import { createBalancer } from '../routing/replica-balancer.js';
import { toShardStrategy } from '../routing/shard-strategy.js';
import { withMigrations } from '../schema/migration-config.js';
import { MigrationStartCheck } from '../schema/migration-start-check.js';
import { ShardingMigrator } from '../schema/sharding-migrator.js';
import { ShardingSchema } from '../schema/sharding-schema.js';
import { NodeRegistry } from '../topology/node-registry.js';
import type { ShardingModuleOptions } from './sharding-options.interface.js';
import { RouteCheck } from './route-check.js';
import { SHARDING_MODULE_OPTIONS } from './sharding.constants.js';
import { resolveShardingOptions } from './options-validator.js';
import type { ResolvedShardingOptions } from './sharding-defaults.js';
import { ConfigurableShardingModule, SHARDING_USER_OPTIONS } from './sharding.module-definition.js';
import { RecoverySchedule } from '../transactions/recovery-schedule.js';
import { ReferenceTables } from '../transactions/reference-tables.js';
import { referenceEntityNames } from './reference-entities.js';
import { ENTITY_MANAGER_CLASSES, entityManagerAliases } from './entity-manager-aliases.js';
import { ShardingFeatureModule, type ShardingFeatureEntities } from './sharding-feature.js';

/**
 * Spreads MikroORM over many PostgreSQL servers: one MikroORM per node (each shard's primary and
 * replicas), the routing decorators, `ShardedEntityManager`, `ShardingService`, and a global
 * interceptor opening one routing context per request. Global unless `isGlobal: false`; the
 * interceptor is left out with `interceptor: false`. MikroORM's `EntityManager` classes (`@mikro-orm/core`,
 * `SqlEntityManager`, `@mikro-orm/postgresql`) are injectable too: each is the `ShardedEntityManager`.
 *
 * @example
 * ShardingModule.forRoot({ shards: { s0: { primary: { clientUrl } } }, mikroOrm: { entities: [User] } })
 * ShardingModule.forRootAsync({ inject: [ConfigService], useFactory: (config) => ({ ... }) })
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    RouteCheck,
    {
      provide: SHARDING_MODULE_OPTIONS,
      inject: [SHARDING_USER_OPTIONS],
      useFactory: (options: ShardingModuleOptions) => resolveShardingOptions(options),
    },
    {
      provide: NodeRegistry,
      inject: [SHARDING_MODULE_OPTIONS],
      useFactory: (options: ResolvedShardingOptions) =>
        // every node's ORM gets MikroORM's part of the `migrations` option (path, tableName, ...)
        NodeRegistry.create(
          { shards: options.shards, mikroOrm: withMigrations(options.mikroOrm, options.migrations) },
          guardQuery,
        ),
    },
    {
      provide: ShardingRuntime,
      inject: [NodeRegistry, SHARDING_MODULE_OPTIONS],
      useFactory: (registry: NodeRegistry, options: ResolvedShardingOptions) => {
        const { readReplicas: replicas } = options;
        return new ShardingRuntime(registry, {
          strategy: toShardStrategy(options.strategy),
          balancer: createBalancer(replicas.balancer),
          lockShard: options.lockShard,
          maxLagMs: replicas.maxLagMs,
          readYourWrites: replicas.readYourWrites,
          monotonicReads: replicas.monotonicReads,
          whenNoReplica: replicas.whenNoReplica,
          shardKeys: options.shardKeys,
          primaryShare: replicas.primaryShare,
          shardPrimaryShare: Object.fromEntries(
            Object.entries(options.shards).flatMap(([shard, config]) =>
              config.primaryShare === undefined ? [] : [[shard, config.primaryShare]],
            ),
          ),
          consistencyHeader: replicas.consistencyHeader,
          checkTimeoutMs: options.health.timeoutMs,
          transactions: options.transactions,
          referenceEntities: referenceEntityNames(registry, options.referenceEntities),
        });
      },
    },
    {
      provide: ReplicationMonitor,
      inject: [NodeRegistry, SHARDING_MODULE_OPTIONS],
      useFactory: (registry: NodeRegistry, options: ResolvedShardingOptions) =>
        new ReplicationMonitor(registry, options.health),
    },
    {
      provide: ShardIdGenerator,
      inject: [NodeRegistry, SHARDING_MODULE_OPTIONS],
      useFactory: (registry: NodeRegistry, options: ResolvedShardingOptions) =>
        new ShardIdGenerator({ shards: registry.shardNames, ...options.ids }),
    },
    {
      provide: CrossShardQuery,
      inject: [ShardingService, ShardingRuntime, SHARDING_MODULE_OPTIONS],
      useFactory: (service: ShardingService, runtime: ShardingRuntime, options: ResolvedShardingOptions) =>
        service.attachCrossShard(new CrossShardQuery(service, runtime, options.crossShard)),
    },
    {
      provide: ShardingMigrator,
      inject: [NodeRegistry, SHARDING_MODULE_OPTIONS],
      useFactory: (registry: NodeRegistry, options: ResolvedShardingOptions) =>
        new ShardingMigrator(registry, options.migrations),
    },
    {
      // only with a `migrations` option: without one, reading the ledgers would create them
      provide: MigrationStartCheck,
      inject: [ShardingMigrator, SHARDING_MODULE_OPTIONS, ReplicationMonitor],
      useFactory: (migrator: ShardingMigrator, options: ResolvedShardingOptions, monitor: ReplicationMonitor) =>
        new MigrationStartCheck(migrator, options.migrations?.verifyOnStart ?? 'off', () =>
          monitor.enabled ? monitor.checkNow() : Promise.resolve(),
        ),
    },
    {
      provide: ReferenceTables,
      inject: [ShardingRuntime, ShardingService],
      useFactory: (runtime: ShardingRuntime, service: ShardingService) => new ReferenceTables(runtime, service),
    },
    {
      provide: RecoverySchedule,
      inject: [ShardingRuntime],
      useFactory: (runtime: ShardingRuntime) => new RecoverySchedule(runtime),
    },
    ShardedEntityManager,
    ...entityManagerAliases,
    ShardingService,
    ShardingInterceptor,
    ShardingSchema,
  ],
  exports: [
    NodeRegistry,
    ReplicationMonitor,
    ShardedEntityManager,
    ...ENTITY_MANAGER_CLASSES,
    ShardingService,
    ShardingInterceptor,
    ShardIdGenerator,
    ShardingSchema,
    ShardingMigrator,
    CrossShardQuery,
    ReferenceTables,
  ],
})
export class ShardingModule extends ConfigurableShardingModule {
  /**
   * Repositories for a feature module, as `MikroOrmModule.forFeature` provides them: injected with
   * `@InjectRepository(User)` / `getRepositoryToken(User)` from `@mikro-orm/nestjs`, and a custom
   * repository (`repository: () => UserRepository`) also by its class. Each acts on the current routed
   * call's EntityManager (its node's fork, or its transaction), so one instance serves every request.
   * Needs `@mikro-orm/nestjs` installed and `ShardingModule.forRoot` global (the default); the
   * entities must be in `mikroOrm.entities`. Returns a Promise, which `imports` accepts.
   *
   * @example
   * \@Module({ imports: [ShardingModule.forFeature([User, Order])], providers: [UsersService] })
   * export class UsersModule {}
   */
  static forFeature(entities: ShardingFeatureEntities): Promise<DynamicModule> {
    return ShardingFeatureModule.forFeature(entities);
  }
}
