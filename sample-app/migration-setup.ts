import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ShardingMigrator } from '../lib/index.js';

/**
 * Applies `sample-app/migrations` to every shard when the app starts (the canary first, then the
 * others; a shard already up to date does nothing). A production deployment runs the CLI
 * (`npx nestjs-mikro-orm-sharding migration:up`) before starting the new version instead.
 */
@Injectable()
export class MigrationSetup implements OnApplicationBootstrap {
  constructor(private readonly migrator: ShardingMigrator) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.migrator.up();
  }
}
