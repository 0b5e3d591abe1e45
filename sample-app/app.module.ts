import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ShardingHealthIndicator } from '../lib/health/index.js';
import { ShardingModule, snowflakeStrategy, type ShardingModuleOptions, type ShardsConfig } from '../lib/index.js';
import { HealthController } from './health/health.controller.js';
import { ShardingErrorsFilter } from './sharding-errors.filter.js';
import { SchemaSetup } from './schema-setup.js';
import { StatsController } from './stats/stats.controller.js';
import { TopologyController } from './topology/topology.controller.js';
import { Order } from './users/order.entity.js';
import { User } from './users/user.entity.js';
import { UsersController } from './users/users.controller.js';
import { UsersDirectory } from './users/users-directory.service.js';
import { UsersService } from './users/users.service.js';

/** The sample application, on whatever topology it is given. */
@Module({})
export class AppModule {
  /** `options` adds to or overrides the sample's sharding options (tests use it for health intervals). */
  static forShards(shards: ShardsConfig, options: Partial<ShardingModuleOptions> = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ShardingModule.forRoot({
          shards,
          mikroOrm: { entities: [User, Order] },
          // user and order ids embed their shard: routing by id needs no lookup
          strategy: snowflakeStrategy(),
          // a where on these properties queries only the shards that hold those keys
          crossShard: { shardKeys: { User: 'id', Order: 'user' } },
          ...options,
        }),
        TerminusModule,
      ],
      controllers: [TopologyController, UsersController, StatsController, HealthController],
      providers: [
        SchemaSetup,
        UsersService,
        UsersDirectory,
        ShardingHealthIndicator,
        { provide: APP_FILTER, useClass: ShardingErrorsFilter },
      ],
    };
  }
}
