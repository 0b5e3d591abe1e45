import { Module } from '@nestjs/common';
import { ShardingSchema } from '../schema/sharding-schema.js';
import { NodeRegistry } from '../topology/node-registry.js';
import type { ShardingModuleOptions } from './sharding-options.interface.js';
import { ConfigurableShardingModule, SHARDING_MODULE_OPTIONS } from './sharding.module-definition.js';

/**
 * Spreads MikroORM over many PostgreSQL servers: one MikroORM per node (each shard's primary and
 * replicas), reachable through the injectable `NodeRegistry`. Global unless `isGlobal: false`.
 *
 * @example
 * ShardingModule.forRoot({ shards: { s0: { primary: { clientUrl } } }, mikroOrm: { entities: [User] } })
 * ShardingModule.forRootAsync({ inject: [ConfigService], useFactory: (config) => ({ ... }) })
 */
@Module({
  providers: [
    {
      provide: NodeRegistry,
      inject: [SHARDING_MODULE_OPTIONS],
      useFactory: (options: ShardingModuleOptions) => NodeRegistry.create(options),
    },
    ShardingSchema,
  ],
  exports: [NodeRegistry, ShardingSchema],
})
export class ShardingModule extends ConfigurableShardingModule {}
