import type { MigrationsOptions } from '@mikro-orm/core';

/**
 * The module's `migrations` option: MikroORM's own migrations settings (`path`, `pathTs`, `tableName`,
 * `transactional`, ...), used on every shard, plus how a run goes across the fleet.
 */
export type ShardingMigrationsOptions = MigrationsOptions & {
  /** The shard migrated first, alone; a failure there stops the run before any other shard. @default the first shard */
  canary?: string;
  /** Shards migrated at once after the canary. @default 4 */
  concurrency?: number;
  /** How long a run waits for another runner's lock on a shard before failing that shard. @default 60000 */
  lockTimeoutMs?: number;
  /** After a shard is migrated, how long to wait for its replicas to replay it. @default 30000 */
  replicaTimeoutMs?: number;
  /**
   * At start: shards whose executed migrations differ from each other are logged (`warn`), refuse the
   * start (`fail`), or are not looked at (`off`). @default 'warn'
   */
  verifyOnStart?: 'off' | 'warn' | 'fail';
};

/** What one shard did in a run of `up()` / `down()`. */
export interface ShardMigrationResult {
  shard: string;
  /** The node it ran on: the shard's acting primary (`s0/primary`, or a promoted `s0/replica-1`). */
  node: string;
  /** Migration names applied (`up`) or reverted (`down`) on this shard in this run, in order. */
  applied: string[];
  /** Set when this shard failed: the migration that failed (if known) and the server's message. */
  failed?: { migration?: string; message: string };
  /** Set when this shard was not run because the canary failed. */
  skipped?: boolean;
  /**
   * Set when the shard was migrated but a replica had not replayed it within `replicaTimeoutMs` (a
   * replica down or far behind): reads there may not see the new schema yet. Not a failure.
   */
  replicasBehind?: string;
}

/** One shard's migration state. */
export interface ShardMigrationStatus {
  shard: string;
  node: string;
  /** Executed migrations, oldest first (this shard's ledger). */
  executed: string[];
  /** Migration files not executed on this shard yet. */
  pending: string[];
}

/** One shard's drift, as `check()` sees it. */
export interface ShardDrift {
  shard: string;
  node: string;
  /** Migration files not executed here. */
  pending: string[];
  /** Executed here but unknown to the migration files (deleted, renamed, or from another branch). */
  unknownExecuted: string[];
  /** SQL MikroORM's schema generator would still run to match the entities (empty: none). */
  schemaDiff: string[];
  /** Fingerprint of the shard's catalog (tables, columns and types, indexes, constraints). */
  fingerprint: string;
  /** What differs from the catalog most shards share (empty when this shard is like the majority). */
  catalogDifferences: string[];
}

/** What `check()` resolves: `ok` when no shard has pending or unknown migrations, schema diff or catalog difference. */
export interface DriftReport {
  ok: boolean;
  shards: ShardDrift[];
}
