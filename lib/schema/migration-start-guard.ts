import { MigrationError } from '../errors/migration.error.js';

/** Where the guard writes its warning (a Nest `Logger` fits). */
export interface MigrationGuardLogger {
  warn(message: string): unknown;
}

/** Names listed per shard before "and N more". */
const LISTED = 5;

/**
 * What each shard lacks relative to the union of every shard's executed migrations, shards lacking
 * nothing left out; in shard order, names in the order they first appear.
 */
export function missingMigrations(executed: Readonly<Record<string, readonly string[]>>): Record<string, string[]> {
  const union = [...new Set(Object.values(executed).flat())];
  const missing: Record<string, string[]> = {};
  for (const [shard, names] of Object.entries(executed)) {
    const have = new Set(names);
    const lacks = union.filter((name) => !have.has(name));
    if (lacks.length) missing[shard] = lacks;
  }
  return missing;
}

/**
 * The start-up guard (`migrations.verifyOnStart`): compares the shards' executed migrations. When they
 * differ, `warn` logs one line naming each shard and what it lacks, `fail` throws a `MigrationError`
 * (empty `results`) with the same words; `off` does not look. Returns what each shard lacks (empty when
 * they agree, or with `off`).
 */
export function verifyMigrationsOnStart(
  executed: Readonly<Record<string, readonly string[]>>,
  mode: 'off' | 'warn' | 'fail',
  logger: MigrationGuardLogger,
): Record<string, string[]> {
  if (mode === 'off') return {};
  const missing = missingMigrations(executed);
  const shards = Object.keys(missing);
  if (!shards.length) return missing;
  const each = shards.map((shard) => `${shard} lacks ${listNames(missing[shard])}`).join('; ');
  const message =
    `Shards differ in executed migrations: ${each}. ` +
    `Run the migrations (ShardingMigrator.up() or \`migration:up\`): each shard applies only what it lacks.`;
  if (mode === 'fail') {
    throw new MigrationError(
      `${message} The application refuses to start (migrations.verifyOnStart: 'fail'; 'warn' only logs this).`,
      [],
    );
  }
  logger.warn(message);
  return missing;
}

function listNames(names: readonly string[]): string {
  const listed = names.slice(0, LISTED).join(', ');
  return names.length > LISTED ? `${listed} and ${names.length - LISTED} more` : listed;
}
