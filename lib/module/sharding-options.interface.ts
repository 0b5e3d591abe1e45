import type { ShardingMikroOrmOptions } from '../topology/node-orm.factory.js';
import type { ShardsConfig } from '../topology/shard-config.js';

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
}
