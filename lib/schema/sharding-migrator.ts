import type { IMigrator, MigrateOptions, MigrationResult } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { MigrationError } from '../errors/migration.error.js';
import { waitForReplicas } from '../replication/wait-for-replicas.js';
import type { NodeRegistry } from '../topology/node-registry.js';
import type { ShardNode } from '../topology/shard-node.js';
import { splitMigrationsOptions, type FleetMigrationSettings } from './migration-config.js';
import { acquireMigrationLock } from './migration-lock.js';
import type {
  DriftReport,
  ShardingMigrationsOptions,
  ShardMigrationResult,
  ShardMigrationStatus,
} from './migration.types.js';
import { detectDrift } from './schema-drift.js';

/** Options of {@link ShardingMigrator.create}. */
export interface CreateMigrationOptions {
  /** Appended to the file name (`Migration20250101000000_<name>`). */
  name?: string;
  /** A migration with empty `up()`/`down()` to fill by hand. */
  blank?: boolean;
  /** The initial migration: the whole schema of the entities. */
  initial?: boolean;
}

/** Options of {@link ShardingMigrator.up}. */
export interface MigrateUpOptions {
  /** Stop after this migration (its name, with or without extension). */
  to?: string;
  /** Only these migrations. */
  migrations?: string[];
  /** Only these shards. @default every shard */
  shards?: string[];
}

/** Options of {@link ShardingMigrator.down}. */
export interface MigrateDownOptions {
  /** Revert down to (not including) this migration; `0` reverts all. @default the last one only */
  to?: string | 0;
  /** Only these migrations. */
  migrations?: string[];
  /** Only these shards. @default every shard */
  shards?: string[];
}

type Direction = 'up' | 'down';

/** The migrator's file discovery (public in JavaScript, protected in MikroORM's typings). */
interface DiscoveringMigrator {
  discoverMigrations(): Promise<{ name: string }[]>;
}

/**
 * MikroORM's migrator on every shard: one set of migration files, each shard's own ledger (MikroORM's
 * migrations table on that shard). `up()`/`down()` run on the canary shard alone first, then on the
 * others (`concurrency` at a time), always on each shard's **acting** primary, under a per-shard
 * PostgreSQL advisory lock (two runners never apply one migration twice), and wait until each shard's
 * replicas replayed the change. A failure keeps what the other shards did and rejects with
 * `MigrationError` listing each shard; running again applies only what each shard still lacks.
 *
 * Inject it (the module provides it), or build one on a registry: `new ShardingMigrator(registry, options)`.
 * (No decorator: the module provides it through a factory, and plain Node can load this file.)
 */
export class ShardingMigrator {
  private readonly fleet: FleetMigrationSettings;
  private readonly tableName: string;

  constructor(
    private readonly registry: NodeRegistry,
    options: ShardingMigrationsOptions = {},
  ) {
    const { mikroOrm, fleet } = splitMigrationsOptions(options);
    this.fleet = fleet;
    this.tableName = mikroOrm.tableName ?? 'mikro_orm_migrations';
  }

  /** The canary shard: the `canary` option, else the first shard. */
  get canary(): string {
    return this.fleet.canary ?? this.registry.shardNames[0];
  }

  /**
   * The waves of a run over `shards` (default every shard): the canary alone first — the `canary` option
   * when it is among them, else the first of them — then the others, `concurrency` at a time.
   * `UnknownNodeError` for a shard that is not configured.
   */
  plan(shards?: readonly string[]): { canary: string | undefined; others: string[]; concurrency: number } {
    const chosen = shards ? [...new Set(shards)] : [...this.registry.shardNames];
    for (const shard of chosen) this.registry.acting(shard); // UnknownNodeError for a name not configured
    const canary = chosen.includes(this.canary) ? this.canary : chosen[0];
    return { canary, others: chosen.filter((shard) => shard !== canary), concurrency: this.fleet.concurrency };
  }

  /**
   * Diffs the entities against the canary shard's acting primary and writes one migration file (MikroORM's
   * generator) for every shard. `fileName` is empty when there was nothing to change.
   */
  async create(options: CreateMigrationOptions = {}): Promise<MigrationResult> {
    const migrator = await migratorOf(this.registry.acting(this.canary).primary.orm);
    const created = await migrator.create(undefined, options.blank ?? false, options.initial ?? false, options.name);
    // MikroORM records an initial migration as executed where it ran (the canary): every other shard whose
    // tables already match the entities gets the same ledger entry, or the next up() would fail there
    if (options.initial && created.fileName) await this.recordInitial(migrationName(created.fileName));
    return created;
  }

  /** Applies pending migrations: the canary shard first, then the others. */
  async up(options: MigrateUpOptions = {}): Promise<ShardMigrationResult[]> {
    const { shards, ...rest } = options;
    await this.checkNames(rest.to, rest.migrations);
    return this.run('up', definedOnly(rest), shards);
  }

  /**
   * Reverts migrations: by default the newest migration executed anywhere in the fleet, on every shard
   * that has it (a shard a failed run left behind is not rolled back further). The canary shard first.
   */
  async down(options: MigrateDownOptions = {}): Promise<ShardMigrationResult[]> {
    const { shards, ...rest } = options;
    await this.checkNames(rest.to === 0 ? undefined : rest.to, rest.migrations);
    if (rest.to === undefined && rest.migrations === undefined) {
      const newest = Object.values(await this.executed())
        .flat()
        .sort()
        .at(-1);
      if (newest === undefined) {
        const { canary, others } = this.plan(shards);
        return (canary === undefined ? [] : [canary, ...others]).map((shard) => ({
          shard,
          node: this.registry.acting(shard).primary.id,
          applied: [],
        }));
      }
      rest.migrations = [newest];
    }
    return this.run('down', definedOnly(rest), shards);
  }

  /** A `to` or `migrations` name that no migration file has would run everything (MikroORM walks past it). */
  private async checkNames(to: string | undefined, names: readonly string[] | undefined): Promise<void> {
    const wanted = [...(to === undefined ? [] : [to]), ...(names ?? [])];
    if (!wanted.length) return;
    const known = new Set(await this.known());
    const unknown = wanted.filter((name) => !known.has(migrationName(name)));
    if (unknown.length) {
      throw new MigrationError(
        `No migration file is named ${unknown.join(', ')}; nothing was run. Known: ${[...known].slice(-5).join(', ') || 'none'}` +
          `${known.size > 5 ? ` (and ${known.size - 5} older)` : ''}.`,
        [],
      );
    }
  }

  /** Logs an initial migration on every other shard whose schema already matches; refuses the others. */
  private async recordInitial(name: string): Promise<void> {
    const refused: string[] = [];
    for (const shard of this.registry.shardNames.filter((s) => s !== this.canary)) {
      const { orm } = this.registry.acting(shard).primary;
      const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: true, dropTables: false });
      if (diff.trim()) refused.push(shard);
      else {
        const storage = (await migratorOf(orm)).getStorage();
        await storage.ensureTable?.();
        await storage.logMigration({ name });
      }
    }
    if (refused.length) {
      throw new MigrationError(
        `The initial migration ${name} was recorded on ${this.canary} and every shard whose tables match the entities, ` +
          `but not on ${refused.join(', ')}: their schema differs. Bring them in line (check() shows how), then record it there.`,
        [],
      );
    }
  }

  /** Each shard's migration files not executed there yet. */
  async pending(): Promise<Record<string, string[]>> {
    return this.perShard(async (migrator) => (await migrator.getPending()).map((m) => m.name));
  }

  /** Each shard's executed migrations, oldest first. */
  async executed(): Promise<Record<string, string[]>> {
    return this.perShard(async (migrator) => (await migrator.getExecuted()).map((m) => m.name));
  }

  /** Each shard's executed and pending migrations, on its acting primary. */
  async status(): Promise<ShardMigrationStatus[]> {
    // one after the other: on a shard without a ledger yet, MikroORM creates it (check, then create)
    const executed = await this.executed();
    const pending = await this.pending();
    return this.registry.shardNames.map((shard) => ({
      shard,
      node: this.registry.acting(shard).primary.id,
      executed: executed[shard],
      pending: pending[shard],
    }));
  }

  /** Drift: pending or unknown migrations, schema differences from the entities, shards unlike the others. */
  async check(): Promise<DriftReport> {
    const executed = await this.executed();
    const pending = await this.pending();
    const known = await this.known();
    return detectDrift(this.registry, { executed, pending, known });
  }

  /** The names of every migration file, oldest first. */
  async known(): Promise<string[]> {
    const migrator = await migratorOf(this.registry.acting(this.canary).primary.orm);
    await migrator.getPending(); // resolves the migrations folder
    const all = await (migrator as unknown as DiscoveringMigrator).discoverMigrations();
    return all.map((m) => m.name);
  }

  private async perShard(ask: (migrator: IMigrator) => Promise<string[]>): Promise<Record<string, string[]>> {
    const answers = await Promise.all(
      this.registry.shardNames.map(async (shard) => ask(await migratorOf(this.registry.acting(shard).primary.orm))),
    );
    return Object.fromEntries(this.registry.shardNames.map((shard, i) => [shard, answers[i]]));
  }

  private async run(
    direction: Direction,
    options: Omit<MigrateOptions, 'from' | 'schema' | 'transaction'>,
    only?: readonly string[],
  ): Promise<ShardMigrationResult[]> {
    const { canary, others } = this.plan(only);
    if (canary === undefined) return [];
    const shards = [canary, ...others];

    const first = await this.runShard(canary, direction, options);
    if (first.failed) {
      const results = [
        first,
        ...others.map((shard) => ({
          shard,
          node: this.registry.acting(shard).primary.id,
          applied: [],
          skipped: true,
        })),
      ];
      throw new MigrationError(
        `Migration ${direction} failed on the canary shard ${describeFailure(first)}; no other shard was touched ` +
          `(${others.join(', ') || 'none'} skipped). Fix it, then run ${direction}() again.`,
        order(results, shards),
      );
    }
    const rest = await mapLimit(others, this.fleet.concurrency, (shard) => this.runShard(shard, direction, options));
    const results = order([first, ...rest], shards);
    const failed = results.filter((r) => r.failed);
    if (failed.length) {
      const succeeded = results.length - failed.length;
      throw new MigrationError(
        `Migration ${direction} failed on ${failed.length} of ${results.length} shards: ${failed.map(describeFailure).join('; ')}. ` +
          `The ${succeeded} other shard(s) keep their migrations; a failed shard stays at its previous version. ` +
          `Fix it, then run ${direction}() again: each shard applies only what it still lacks.`,
        results,
      );
    }
    return results;
  }

  /** One shard's run: on its acting primary, under its lock, then waits for its replicas. Never throws. */
  private async runShard(
    shard: string,
    direction: Direction,
    options: Omit<MigrateOptions, 'from' | 'schema' | 'transaction'>,
  ): Promise<ShardMigrationResult> {
    const node: ShardNode = this.registry.acting(shard).primary;
    const result: ShardMigrationResult = { shard, node: node.id, applied: [] };
    try {
      const lock = await acquireMigrationLock(node, this.tableName, this.fleet.lockTimeoutMs);
      try {
        // a promotion noticed while we waited for the lock: run where the shard's writes go now
        const acting = this.registry.acting(shard).primary;
        if (acting !== node) {
          await lock.release();
          return this.runShard(shard, direction, options);
        }
        await this.migrate(node, direction, options, result);
      } finally {
        await lock.release();
      }
      if (!result.failed) {
        // the migration is committed: replicas that are slow to replay it are said, not a failure
        await waitForReplicas(this.registry, { shards: [shard], timeoutMs: this.fleet.replicaTimeoutMs }).catch(
          (error: unknown) => (result.replicasBehind = safeMessage(error)),
        );
      }
    } catch (error) {
      result.failed ??= { message: safeMessage(error) };
    }
    return result;
  }

  private async migrate(
    node: ShardNode,
    direction: Direction,
    options: Omit<MigrateOptions, 'from' | 'schema' | 'transaction'>,
    result: ShardMigrationResult,
  ): Promise<void> {
    const migrator = await migratorOf(node.orm);
    const executedNames = async () => (await migrator.getExecuted()).map((m) => m.name);
    const before = await executedNames();
    let current: string | undefined;
    const starting = (event: { name: string }) => {
      current = event.name;
    };
    const startEvent = direction === 'up' ? 'migrating' : 'reverting';
    migrator.on(startEvent, starting);
    try {
      const done = await migrator[direction](options);
      result.applied = done.map((m) => m.name);
    } catch (error) {
      // what this run changed for good (with allOrNothing, nothing: the whole run rolled back)
      const after = await executedNames().catch(() => before);
      result.applied =
        direction === 'up'
          ? after.filter((n) => !before.includes(n))
          : before.filter((n) => !after.includes(n)).reverse();
      result.failed = { migration: current, message: safeMessage(error) };
    } finally {
      migrator.off(startEvent, starting);
    }
  }
}

/** The node ORM's Migrator (MikroORM.init loads it when installed; registered here otherwise). */
async function migratorOf(orm: MikroORM): Promise<IMigrator> {
  try {
    return orm.migrator;
  } catch {
    let Migrator: typeof import('@mikro-orm/migrations').Migrator;
    try {
      ({ Migrator } = await import('@mikro-orm/migrations'));
    } catch {
      throw new Error(
        'ShardingMigrator needs @mikro-orm/migrations (the same version as @mikro-orm/core): npm install @mikro-orm/migrations',
      );
    }
    Migrator.register(orm);
    return orm.migrator;
  }
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function order(results: ShardMigrationResult[], shards: readonly string[]): ShardMigrationResult[] {
  return [...results].sort((a, b) => shards.indexOf(a.shard) - shards.indexOf(b.shard));
}

function describeFailure({ shard, node, failed }: ShardMigrationResult): string {
  const migration = failed?.migration ? ` in ${failed.migration}` : '';
  return `${shard} (${node})${migration}: ${failed?.message}`;
}

/** The error's message without any password a connection string in it may carry. */
export function safeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1@');
}

async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

/** A migration's name as the ledger keeps it: the file name without folder and extension. */
function migrationName(fileName: string): string {
  return fileName.replace(/^.*[\\/]/, '').replace(/\.(?:[cm]?js|[cm]?ts)$/, '');
}
