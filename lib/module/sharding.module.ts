import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ShardedEntityManager } from '../context/sharded-entity-manager.js';
import { ShardingRuntime } from '../context/sharding-runtime.js';
import { ShardingInterceptor } from '../context/sharding.interceptor.js';
import { ShardingService } from '../context/sharding.service.js';
import { CrossShardQuery } from '../cross-shard/cross-shard-query.service.js';
import { guardQuery } from '../context/write-guard.js';
import { HEALTH_DEFAULTS } from '../replication/health-options.js';
import { ReplicationMonitor } from '../replication/replication-monitor.js';
import { ShardIdGenerator } from '../ids/shard-id-generator.js';
import { createBalancer } from '../routing/replica-balancer.js';
import { hashStrategy } from '../routing/hash-strategy.js';
import type { ShardKeysOption } from '../routing/entity-shard-key.js';
import { toShardStrategy } from '../routing/shard-strategy.js';
import { withMigrations } from '../schema/migration-config.js';
import { MigrationStartCheck } from '../schema/migration-start-check.js';
import { ShardingMigrator } from '../schema/sharding-migrator.js';
import { ShardingSchema } from '../schema/sharding-schema.js';
import { NodeRegistry } from '../topology/node-registry.js';
import { validateShardingOptions } from './options-validator.js';
import type { ShardingModuleOptions } from './sharding-options.interface.js';
import { RouteCheck } from './route-check.js';
import { ENTITY_MANAGER_CLASSES, entityManagerAliases } from './entity-manager-aliases.js';
import { ShardingFeatureModule, type ShardingFeatureEntities } from './sharding-feature.js';
import { ConfigurableShardingModule, SHARDING_MODULE_OPTIONS } from './sharding.module-definition.js';

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
      provide: NodeRegistry,
      inject: [SHARDING_MODULE_OPTIONS],
      useFactory: (options: ShardingModuleOptions) => {
        validateShardingOptions(options);
        // every node's ORM gets MikroORM's part of the `migrations` option (path, tableName, ...)
        return NodeRegistry.create(
          { shards: options.shards, mikroOrm: withMigrations(options.mikroOrm, options.migrations) },
          guardQuery,
        );
      },
    },
    {
      provide: ShardingRuntime,
      inject: [NodeRegistry, SHARDING_MODULE_OPTIONS],
      useFactory: (registry: NodeRegistry, options: ShardingModuleOptions) => {
        const replicas = options.readReplicas ?? {};
        return new ShardingRuntime(registry, {
          strategy: toShardStrategy(options.strategy ?? hashStrategy({ buckets: 1024 })),
          balancer: createBalancer(replicas.balancer),
          lockRequestToOneShard: options.lockRequestToOneShard ?? false,
          maxLagMs: replicas.maxLagMs,
          readYourWrites: replicas.readYourWrites ?? true,
          monotonicReads: replicas.monotonicReads ?? false,
          whenNoReplica: replicas.whenNoReplica ?? 'primary',
          shardKeys: options.shardKeys ?? {},
          primaryShare: replicas.primaryShare ?? 0,
          shardPrimaryShare: Object.fromEntries(
            Object.entries(options.shards).flatMap(([shard, config]) =>
              config.primaryShare === undefined ? [] : [[shard, config.primaryShare]],
            ),
          ),
          consistencyHeader: (replicas.consistencyHeader ?? 'x-shard-consistency').toLowerCase(),
          checkTimeoutMs: options.health?.timeoutMs ?? HEALTH_DEFAULTS.timeoutMs,
        });
      },
    },
    {
      provide: ReplicationMonitor,
      inject: [NodeRegistry, SHARDING_MODULE_OPTIONS],
      useFactory: (registry: NodeRegistry, options: ShardingModuleOptions) =>
        new ReplicationMonitor(registry, options.health),
    },
    {
      provide: ShardIdGenerator,
      inject: [NodeRegistry, SHARDING_MODULE_OPTIONS],
      useFactory: (registry: NodeRegistry, options: ShardingModuleOptions) =>
        new ShardIdGenerator({
          shards: registry.shardNames,
          workerId: options.ids?.workerId,
          layout: options.ids?.layout,
        }),
    },
    {
      provide: CrossShardQuery,
      inject: [ShardingService, ShardingRuntime, SHARDING_MODULE_OPTIONS],
      useFactory: (service: ShardingService, runtime: ShardingRuntime, options: ShardingModuleOptions) =>
        service.attachCrossShard(
          new CrossShardQuery(service, runtime, {
            ...options.crossShard,
            // narrowing uses the entity's key property; the module-level map is the one to keep
            shardKeys: { ...propertyKeys(options.shardKeys), ...options.crossShard?.shardKeys },
          }),
        ),
    },
    {
      provide: ShardingMigrator,
      inject: [NodeRegistry, SHARDING_MODULE_OPTIONS],
      useFactory: (registry: NodeRegistry, options: ShardingModuleOptions) =>
        new ShardingMigrator(registry, options.migrations),
    },
    {
      // only with a `migrations` option: without one, reading the ledgers would create them
      provide: MigrationStartCheck,
      inject: [ShardingMigrator, SHARDING_MODULE_OPTIONS, ReplicationMonitor],
      useFactory: (migrator: ShardingMigrator, options: ShardingModuleOptions, monitor: ReplicationMonitor) =>
        new MigrationStartCheck(
          migrator,
          options.migrations ? (options.migrations.verifyOnStart ?? 'warn') : 'off',
          () => (monitor.enabled ? monitor.checkNow() : Promise.resolve()),
        ),
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

/** The property keys of the `shardKeys` map (a function key cannot narrow a query's `where`). */
function propertyKeys(keys: ShardKeysOption = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries(keys).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}
