import { Logger } from '@nestjs/common';
import { failureReason } from '../topology/connection-failure.js';
import { verifyMigrationsOnStart } from './migration-start-guard.js';
import type { ShardingMigrator } from './sharding-migrator.js';

/**
 * At application start (the module's `migrations.verifyOnStart`): compares the shards' executed
 * migrations and logs (`warn`) or refuses to start (`fail`) when they differ, naming what each shard
 * lacks. A shard that cannot be read is logged, not fatal: the check is about versions, not health.
 */
export class MigrationStartCheck {
  private readonly logger = new Logger('ShardingMigrator');

  constructor(
    private readonly migrator: ShardingMigrator,
    private readonly mode: 'off' | 'warn' | 'fail',
    /** Runs a health round first, so the ledgers are read on the acting primaries (after a promotion too). */
    private readonly knowActingPrimaries: () => Promise<void> = async () => undefined,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.mode === 'off') return;
    let executed: Record<string, string[]>;
    try {
      await this.knowActingPrimaries();
      executed = await this.migrator.executed();
    } catch (error) {
      this.logger.warn(`could not compare the shards' migrations at start: ${failureReason(error)}`);
      return;
    }
    verifyMigrationsOnStart(executed, this.mode, this.logger);
  }
}
