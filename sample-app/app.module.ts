import { Module, type DynamicModule } from '@nestjs/common';
import { ShardingModule, snowflakeStrategy, type ShardsConfig } from '../lib/index.js';
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
  static forShards(shards: ShardsConfig): DynamicModule {
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
        }),
      ],
      controllers: [TopologyController, UsersController, StatsController],
      providers: [SchemaSetup, UsersService, UsersDirectory],
    };
  }
}
