import { Injectable } from '@nestjs/common';
import { waitForReplicas } from '../replication/wait-for-replicas.js';
import { NodeRegistry } from '../topology/node-registry.js';

/** Options shared by the schema operations. */
export interface SchemaSyncOptions {
  /** Resolve only once every replica has replayed the change. @default true */
  waitForReplicas?: boolean;
}

/**
 * Development schema management across the topology: each operation runs MikroORM's schema
 * generator on **every shard primary**, in parallel; replicas follow by streaming replication.
 * (Production deployments should use migrations.)
 */
@Injectable()
export class ShardingSchema {
  constructor(private readonly registry: NodeRegistry) {}

  /** Creates each primary's database if missing, then adds missing tables and columns. */
  update(options: SchemaSyncOptions = {}): Promise<void> {
    return this.onEveryPrimary(async (orm) => {
      await orm.schema.ensureDatabase();
      await orm.schema.update();
    }, options);
  }

  /** Drops and recreates every entity table on every primary: all data is lost (tests, demos). */
  refresh(options: SchemaSyncOptions = {}): Promise<void> {
    return this.onEveryPrimary(async (orm) => {
      await orm.schema.ensureDatabase();
      await orm.schema.refresh();
    }, options);
  }

  /** Deletes every row of every entity table on every primary, keeping the tables. */
  clear(options: SchemaSyncOptions = {}): Promise<void> {
    return this.onEveryPrimary((orm) => orm.schema.clear(), options);
  }

  private async onEveryPrimary(
    change: (orm: ReturnType<NodeRegistry['node']>['orm']) => Promise<void>,
    options: SchemaSyncOptions,
  ): Promise<void> {
    await Promise.all(this.registry.shardNames.map((shard) => change(this.registry.node(shard).orm)));
    if (options.waitForReplicas ?? true) await waitForReplicas(this.registry);
  }
}
