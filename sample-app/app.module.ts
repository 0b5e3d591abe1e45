import { fileURLToPath } from 'node:url';
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ShardingHealthIndicator } from '../lib/health/index.js';
import {
  ShardingExceptionFilter,
  ShardingModule,
  snowflakeStrategy,
  type ShardingModuleOptions,
  type ShardsConfig,
} from '../lib/index.js';
import { HEALTH_DETAIL, HealthController } from './health/health.controller.js';
import { MigrationSetup } from './migration-setup.js';
import { StatsController } from './stats/stats.controller.js';
import { TopologyController } from './topology/topology.controller.js';
import { Order } from './users/order.entity.js';
import { User } from './users/user.entity.js';
import { UsersController } from './users/users.controller.js';
import { UsersDirectory } from './users/users-directory.service.js';
import { UsersService } from './users/users.service.js';
import { TransferLeg } from './users/transfer-leg.entity.js';
import { TransfersController } from './users/transfers.controller.js';
import { TransfersService } from './users/transfers.service.js';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

/** The sample application, on whatever topology it is given. */
@Module({})
export class AppModule {
  /**
   * `options` adds to or overrides the sample's sharding options (tests use it for health intervals).
   * `operatorEndpoints` adds `GET /topology` and every node's detail in `GET /health` (addresses, WAL
   * positions, errors): for operators, not for the public internet.
   */
  static forShards(
    shards: ShardsConfig,
    options: Partial<ShardingModuleOptions> = {},
    { operatorEndpoints = false } = {},
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ShardingModule.forRoot({
          shards,
          mikroOrm: { entities: [User, Order, TransferLeg] },
          // user and order ids embed their shard: routing by id needs no lookup
          strategy: snowflakeStrategy(),
          // each entity's own key: a row is never written to another shard than its key's (the placement
          // guard), and a cross-shard where on these properties queries only the shards holding the keys
          shardKeys: { User: 'id', Order: 'user', TransferLeg: 'user' },
          // sample-app/migrations (TypeScript under ts tooling, compiled JavaScript next to the build)
          migrations: { path: MIGRATIONS, pathTs: MIGRATIONS, silent: true },
          ...options,
        }),
        TerminusModule,
      ],
      controllers: [
        ...(operatorEndpoints ? [TopologyController] : []),
        UsersController,
        TransfersController,
        StatsController,
        HealthController,
      ],
      providers: [
        MigrationSetup,
        UsersService,
        TransfersService,
        UsersDirectory,
        ShardingHealthIndicator,
        { provide: HEALTH_DETAIL, useValue: operatorEndpoints },
        // 503 / 400 / 500 with what a client can act on; the detail goes to the log
        { provide: APP_FILTER, useClass: ShardingExceptionFilter },
      ],
    };
  }
}
