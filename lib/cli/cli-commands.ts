import type { MigrationDiff } from '@mikro-orm/core';
import { MigrationError } from '../errors/migration.error.js';
import type { DriftReport, ShardMigrationResult, ShardMigrationStatus } from '../schema/migration.types.js';
import type { CliArgs, CliCommand } from './cli-args.js';
import { CliUsageError } from './cli-usage.error.js';
import {
  formatDrift,
  formatNames,
  formatResults,
  formatStatus,
  names,
  redact,
  type NodeAddresses,
} from './output-format.js';
import type { Progress, ProgressStep } from './progress.js';

/** What the CLI needs of `ShardingMigrator` (a fake in the unit specs). */
export interface CliMigrator {
  create(options: {
    name?: string;
    blank?: boolean;
    initial?: boolean;
  }): Promise<{ fileName: string; code: string; diff: MigrationDiff }>;
  up(options: { to?: string; migrations?: string[]; shards?: string[] }): Promise<ShardMigrationResult[]>;
  down(options: { to?: string | 0; migrations?: string[]; shards?: string[] }): Promise<ShardMigrationResult[]>;
  /** The waves of a run: the migrator decides them, the CLI only shows them. */
  plan(shards?: readonly string[]): { canary: string | undefined; others: string[]; concurrency: number };
  status(): Promise<ShardMigrationStatus[]>;
  check(): Promise<DriftReport>;
}

/** Everything a command runs with. */
export interface CliContext {
  migrator: CliMigrator;
  /** Shard names in configuration order. */
  shardNames: readonly string[];
  /** Node id → address without password. */
  addresses: NodeAddresses;
  /** The `migrations.path` option, shown with a created file. */
  migrationsPath?: string;
  progress: Progress;
  /** Writes one block of text (a line break is added). */
  out(text: string): void;
  /** Passwords to keep out of every message. */
  secrets: readonly string[];
}

/** 0 done, 1 failed, 2 drift found, 64 usage error. */
export const EXIT = { ok: 0, failed: 1, drift: 2, usage: 64 } as const;

/** Runs one parsed command; resolves its exit code. Usage errors throw `CliUsageError`. */
export async function runCommand(args: CliArgs & { command: CliCommand }, context: CliContext): Promise<number> {
  switch (args.command) {
    case 'migration:create':
      return create(args, context);
    case 'migration:up':
      return migrate('up', args, context);
    case 'migration:down':
      return migrate('down', args, context);
    case 'migration:list':
    case 'migration:pending':
      return list(args.command === 'migration:list' ? 'executed' : 'pending', context);
    case 'migration:check':
      return check(context);
  }
}

async function create(args: CliArgs, context: CliContext): Promise<number> {
  let created: Awaited<ReturnType<CliMigrator['create']>> | undefined;
  const failures: string[] = [];
  const title = `create a migration from the canary shard's schema`;
  const run = async () => {
    created = await context.migrator.create({ name: args.name, blank: args.blank, initial: args.initial });
    return created.fileName ? `wrote ${created.fileName}` : 'no changes';
  };
  await context.progress.run([step(context, title, run, failures)], 1);
  if (!created) {
    context.out(`migration:create failed: ${failures.join('; ')}`);
    return EXIT.failed;
  }
  if (!created.fileName) {
    context.out('No changes: the entities match the canary shard. No migration was written.');
    return EXIT.ok;
  }
  const where = context.migrationsPath ? ` in ${context.migrationsPath}` : '';
  context.out(`Created ${created.fileName}${where} (${created.diff.up.length} statement(s) up).`);
  return EXIT.ok;
}

/** The canary alone first; the other shards only if it succeeded, `concurrency` at a time. */
async function migrate(direction: 'up' | 'down', args: CliArgs, context: CliContext): Promise<number> {
  const targets = args.shards ?? [...context.shardNames];
  const unknown = targets.filter((shard) => !context.shardNames.includes(shard));
  if (unknown.length) {
    throw new CliUsageError(`Unknown shard(s) ${unknown.join(', ')}: the config has ${context.shardNames.join(', ')}.`);
  }
  const { canary, others: rest, concurrency } = context.migrator.plan(targets);
  if (canary === undefined) return EXIT.ok;
  const results = new Map<string, ShardMigrationResult>();
  const verb = direction === 'up' ? 'applied' : 'reverted';
  const shardStep = (shard: string, title: string) =>
    step(context, title, async () => {
      const result = await runOnShard(direction, shard, args, context);
      results.set(shard, result);
      if (result.failed) {
        throw new Error(`${result.failed.migration ? `${result.failed.migration}: ` : ''}${result.failed.message}`);
      }
      return result.applied.length
        ? `${verb} ${names(result.applied)}`
        : `nothing to ${direction === 'up' ? 'apply' : 'revert'}`;
    });

  await context.progress.run([shardStep(canary, `${canary} (canary): migration:${direction}`)], 1);
  if (results.get(canary)?.failed) {
    for (const shard of rest) results.set(shard, { shard, node: '-', applied: [], skipped: true });
  } else if (rest.length) {
    await context.progress.run(
      rest.map((shard) => shardStep(shard, `${shard}: migration:${direction}`)),
      concurrency,
    );
  }

  const ordered = targets.map((shard) => results.get(shard)!);
  context.out(formatResults(ordered, context.addresses, verb));
  const failed = ordered.filter((result) => result.failed);
  if (failed.length === 0) return EXIT.ok;
  const skipped = ordered.filter((result) => result.skipped).length;
  context.out(
    `\nmigration:${direction} failed on ${failed.map((result) => result.shard).join(', ')}` +
      (skipped ? ` (the canary: the ${skipped} other shard(s) were not touched)` : '') +
      `. Fix the cause and run migration:${direction} again: each shard runs only what it still needs.`,
  );
  return EXIT.failed;
}

async function runOnShard(
  direction: 'up' | 'down',
  shard: string,
  args: CliArgs,
  context: CliContext,
): Promise<ShardMigrationResult> {
  const options = { migrations: args.only, shards: [shard] };
  try {
    const results =
      direction === 'up'
        ? await context.migrator.up({ ...options, to: args.to === 0 ? undefined : args.to })
        : await context.migrator.down({ ...options, to: args.to });
    return results.find((result) => result.shard === shard) ?? { shard, node: '-', applied: [] };
  } catch (error) {
    const result = resultsOf(error)?.find((entry) => entry.shard === shard);
    if (result?.failed)
      return { ...result, failed: { ...result.failed, message: clean(result.failed.message, context) } };
    return {
      shard,
      node: result?.node ?? '-',
      applied: result?.applied ?? [],
      failed: { migration: result?.failed?.migration, message: clean(messageOf(error), context) },
    };
  }
}

async function list(which: 'executed' | 'pending', context: CliContext): Promise<number> {
  const statuses = await context.migrator.status();
  context.out(formatStatus(statuses, context.addresses));
  context.out('');
  context.out(formatNames(statuses, which));
  if (which === 'pending') {
    const behind = statuses.filter((status) => status.pending.length);
    context.out(
      behind.length
        ? `\n${behind.length} shard(s) with pending migrations: ${behind.map((status) => status.shard).join(', ')}.`
        : '\nNo pending migrations on any shard.',
    );
  }
  return EXIT.ok;
}

async function check(context: CliContext): Promise<number> {
  let report: DriftReport | undefined;
  const failures: string[] = [];
  const run = async () => {
    report = await context.migrator.check();
    return report.ok ? 'no drift' : 'drift found';
  };
  await context.progress.run([step(context, `check drift on ${context.shardNames.length} shard(s)`, run, failures)], 1);
  if (!report) {
    context.out(`migration:check failed: ${failures.join('; ')}`);
    return EXIT.failed;
  }
  context.out(formatDrift(report, context.addresses));
  return report.ok ? EXIT.ok : EXIT.drift;
}

/** A step whose error message is cleaned of passwords before anything shows it. */
function step(context: CliContext, title: string, run: () => Promise<string>, failures?: string[]): ProgressStep {
  return {
    title,
    run: () =>
      run().catch((error: unknown) => {
        const message = clean(messageOf(error), context);
        failures?.push(message);
        throw new Error(message);
      }),
  };
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
const clean = (message: string, context: CliContext) => redact(message, context.secrets);

function resultsOf(error: unknown): readonly ShardMigrationResult[] | undefined {
  if (error instanceof MigrationError) return error.results;
  const results = (error as { results?: unknown } | null)?.results;
  return Array.isArray(results) ? (results as ShardMigrationResult[]) : undefined;
}
