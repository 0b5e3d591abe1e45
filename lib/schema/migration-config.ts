import type { MigrationsOptions } from '@mikro-orm/core';
import { SHARDING_DEFAULTS } from '../module/sharding-defaults.js';
import type { ShardingMikroOrmOptions } from '../topology/node-orm.factory.js';
import type { ShardingMigrationsOptions } from './migration.types.js';

/** The keys of the `migrations` option that say how a run goes across the fleet (not MikroORM's). */
export const FLEET_MIGRATION_KEYS = [
  'canary',
  'concurrency',
  'lockTimeoutMs',
  'replicaTimeoutMs',
  'verifyOnStart',
] as const;

/** MikroORM's own `migrations` settings, as MikroORM 7.2 knows them. */
export const MIKRO_ORM_MIGRATION_KEYS = [
  'tableName',
  'path',
  'pathTs',
  'glob',
  'silent',
  'transactional',
  'disableForeignKeys',
  'allOrNothing',
  'dropTables',
  'safe',
  'snapshot',
  'snapshotOnMigrate',
  'snapshotName',
  'emit',
  'generator',
  'fileName',
  'migrationsList',
  'schema',
  'includeWildcardSchema',
] as const;

/** The fleet settings of a run, defaults applied. */
export interface FleetMigrationSettings {
  canary?: string;
  concurrency: number;
  lockTimeoutMs: number;
  replicaTimeoutMs: number;
  verifyOnStart: 'off' | 'warn' | 'fail';
}

/** Splits the module's `migrations` option into MikroORM's part and the fleet's part (defaults applied). */
export function splitMigrationsOptions(options: ShardingMigrationsOptions = {}): {
  mikroOrm: MigrationsOptions;
  fleet: FleetMigrationSettings;
} {
  const { canary, concurrency, lockTimeoutMs, replicaTimeoutMs, verifyOnStart, ...mikroOrm } = options;
  return {
    mikroOrm,
    fleet: {
      canary,
      concurrency: concurrency ?? SHARDING_DEFAULTS.migrations.concurrency,
      lockTimeoutMs: lockTimeoutMs ?? SHARDING_DEFAULTS.migrations.lockTimeoutMs,
      replicaTimeoutMs: replicaTimeoutMs ?? SHARDING_DEFAULTS.migrations.replicaTimeoutMs,
      verifyOnStart: verifyOnStart ?? SHARDING_DEFAULTS.migrations.verifyOnStart,
    },
  };
}

/**
 * The shared MikroORM options with MikroORM's part of the module's `migrations` option laid over
 * `mikroOrm.migrations`: every node's ORM gets the same migrations settings (path, table, ...).
 */
export function withMigrations(
  mikroOrm: ShardingMikroOrmOptions,
  migrations: ShardingMigrationsOptions | undefined,
): ShardingMikroOrmOptions {
  if (!migrations) return mikroOrm;
  return { ...mikroOrm, migrations: { ...mikroOrm.migrations, ...splitMigrationsOptions(migrations).mikroOrm } };
}
