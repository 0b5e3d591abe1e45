import { Module, type DynamicModule } from '@nestjs/common';
import { ShardingModule, type ShardsConfig } from '../../lib/index.js';
import { CallerGuard } from './caller.guard.js';
import { Order, User } from './entities.js';
import { OrdersService } from './orders.service.js';
import { UsersController } from './users.controller.js';
import { UsersService } from './users.service.js';

/*
 * The app was written for @mikro-orm/nestjs. What changed to shard it:
 *   MikroOrmModule.forRoot({ driver: PostgreSqlDriver, clientUrl, entities: [User, Order] })
 *     → ShardingModule.forRoot({ shards, mikroOrm: { entities: [User, Order] }, shardKeys })
 *   MikroOrmModule.forFeature([User, Order]) → ShardingModule.forFeature([User, Order])
 *   plus @ShardBy / @ReadReplica on the service methods, and the guard's lookup in shardingService.run().
 * Controllers, repositories, entities and `EntityManager` injections are as they were.
 */
@Module({
  imports: [ShardingModule.forFeature([User, Order])], // was MikroOrmModule.forFeature([User, Order])
  controllers: [UsersController],
  providers: [UsersService, OrdersService, CallerGuard],
})
export class UsersModule {}

@Module({})
export class AppModule {
  /** A function of the topology only because the tests start the servers: an app passes its config. */
  static register(shards: ShardsConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        // was MikroOrmModule.forRoot({ driver: PostgreSqlDriver, clientUrl, entities: [User, Order] })
        ShardingModule.forRoot({
          shards,
          mikroOrm: { entities: [User, Order] },
          shardKeys: { User: 'id', Order: 'userId' }, // a row is refused on a shard its key does not map to
        }),
        UsersModule,
      ],
    };
  }
}
