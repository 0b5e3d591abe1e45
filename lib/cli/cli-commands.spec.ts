import { MigrationError } from '../errors/migration.error.js';
import type { DriftReport, ShardMigrationResult } from '../schema/migration.types.js';
import { EXIT, runCommand, type CliContext, type CliMigrator } from './cli-commands.js';
import { CliUsageError } from './cli-usage.error.js';
import { PlainProgress } from './progress.js';

const SHARDS = ['s0', 's1', 's2'];

/** A migrator whose `up()`/`down()` apply `M1` per shard, failing on the shards in `failOn`. */
function fakeMigrator(failOn: string[] = [], calls: string[][] = [], canaryShard = 's0'): CliMigrator {
  const run = async ({ shards = SHARDS }: { shards?: string[] }): Promise<ShardMigrationResult[]> => {
    calls.push(shards);
    const results = shards.map((shard) => ({
      shard,
      node: `${shard}/primary`,
      applied: failOn.includes(shard) ? [] : ['M1'],
      ...(failOn.includes(shard) && {
        failed: {
          migration: 'M1',
          message: 'connect postgresql://app:secret@db:5432/app: relation "t" already exists',
        },
      }),
    }));
    if (results.some((result) => result.failed)) throw new MigrationError('failed', results);
    return results;
  };
  return {
    create: async () => ({
      fileName: 'Migration20250101000000.js',
      code: '',
      diff: { up: ['create table t'], down: [] },
    }),
    up: run,
    down: run,
    // the migrator's own rule: the canary option when among the shards, else the first of them
    plan: (shards = SHARDS) => {
      const canary = shards.includes(canaryShard) ? canaryShard : shards[0];
      return { canary, others: shards.filter((shard) => shard !== canary), concurrency: 4 };
    },
    status: async () =>
      SHARDS.map((shard) => ({
        shard,
        node: `${shard}/primary`,
        executed: ['M1'],
        pending: shard === 's2' ? ['M2'] : [],
      })),
    check: async (): Promise<DriftReport> => ({
      ok: false,
      shards: SHARDS.map((shard) => ({
        shard,
        node: `${shard}/primary`,
        pending: [],
        unknownExecuted: [],
        schemaDiff: shard === 's1' ? ['alter table "t" drop column "x";'] : [],
        fingerprint: 'f',
        catalogDifferences: [],
      })),
    }),
  };
}

function context(migrator: CliMigrator, extra: Partial<CliContext> = {}) {
  const lines: string[] = [];
  const ctx: CliContext = {
    migrator,
    shardNames: SHARDS,
    addresses: new Map(SHARDS.map((shard) => [`${shard}/primary`, `postgresql://app@${shard}:5432/app`])),
    progress: new PlainProgress((line) => lines.push(line)),
    out: (text) => lines.push(text),
    secrets: ['secret'],
    ...extra,
  };
  return { ctx, output: () => lines.join('\n') };
}

describe('runCommand', () => {
  it('migration:up runs the canary alone, then the others, and prints one row per shard', async () => {
    const calls: string[][] = [];
    const { ctx, output } = context(fakeMigrator([], calls, 's1'));
    expect(await runCommand({ command: 'migration:up' }, ctx)).toBe(EXIT.ok);
    expect(calls[0]).toEqual(['s1']);
    expect(calls.slice(1).sort()).toEqual([['s0'], ['s2']]);
    const text = output();
    expect(text).toContain('... s1 (canary): migration:up');
    expect(text).toContain('ok  s1 (canary): migration:up: applied M1');
    expect(text).toMatch(/^s2\s+s2\/primary\s+postgresql:\/\/app@s2:5432\/app\s+M1\s+done$/m);
  });

  it('a failed shard exits 1 with the table and the message, without the password', async () => {
    const { ctx, output } = context(fakeMigrator(['s2']));
    expect(await runCommand({ command: 'migration:up' }, ctx)).toBe(EXIT.failed);
    const text = output();
    expect(text).toMatch(/^s0\s+s0\/primary\s+\S+\s+M1\s+done$/m);
    expect(text).toMatch(/^s2\s+s2\/primary\s+\S+\s+-\s+FAILED at M1$/m);
    expect(text).toContain('FAILED s2: migration:up: M1: connect postgresql://app@db:5432/app');
    expect(text).toContain('migration:up failed on s2.');
    expect(text).not.toContain('secret');
  });

  it('a failed canary leaves the other shards untouched', async () => {
    const calls: string[][] = [];
    const { ctx, output } = context(fakeMigrator(['s0'], calls));
    expect(await runCommand({ command: 'migration:down' }, ctx)).toBe(EXIT.failed);
    expect(calls).toEqual([['s0']]);
    expect(output()).toMatch(/^s1\s+-\s+-\s+-\s+skipped \(canary failed\)$/m);
    expect(output()).toContain('the 2 other shard(s) were not touched');
  });

  it('an error without per-shard results still names the shard', async () => {
    const migrator = { ...fakeMigrator(), up: async () => Promise.reject(new Error('pool closed')) };
    const { ctx, output } = context(migrator);
    expect(await runCommand({ command: 'migration:up', shards: ['s1'] }, ctx)).toBe(EXIT.failed);
    expect(output()).toMatch(/^s1\s+-\s+-\s+-\s+FAILED$/m);
    expect(output()).toContain('s1 (-): pool closed');
  });

  it('refuses a shard the config does not have', async () => {
    const { ctx } = context(fakeMigrator());
    await expect(runCommand({ command: 'migration:up', shards: ['s9'] }, ctx)).rejects.toThrow(CliUsageError);
  });

  it('migration:check exits 2 on drift and names the shard', async () => {
    const { ctx, output } = context(fakeMigrator());
    expect(await runCommand({ command: 'migration:check' }, ctx)).toBe(EXIT.drift);
    expect(output()).toContain('Drift on 1 shard(s): s1.');
    expect(output()).toContain('alter table "t" drop column "x";');
  });

  it('migration:check exits 1 when it could not run', async () => {
    const migrator = { ...fakeMigrator(), check: () => Promise.reject(new Error('password secret rejected')) };
    const { ctx, output } = context(migrator);
    expect(await runCommand({ command: 'migration:check' }, ctx)).toBe(EXIT.failed);
    expect(output()).toContain('migration:check failed: password *** rejected');
  });

  it('migration:pending and migration:list show each shard', async () => {
    const pending = context(fakeMigrator());
    expect(await runCommand({ command: 'migration:pending' }, pending.ctx)).toBe(EXIT.ok);
    expect(pending.output()).toContain('s2 (s2/primary):\n  M2');
    expect(pending.output()).toContain('1 shard(s) with pending migrations: s2.');
    const list = context(fakeMigrator());
    expect(await runCommand({ command: 'migration:list' }, list.ctx)).toBe(EXIT.ok);
    expect(list.output()).toContain('s0 (s0/primary):\n  M1');
  });

  it('migration:create names the file it wrote, or says nothing changed', async () => {
    const created = context(fakeMigrator(), { migrationsPath: 'migrations' });
    expect(await runCommand({ command: 'migration:create' }, created.ctx)).toBe(EXIT.ok);
    expect(created.output()).toContain('Created Migration20250101000000.js in migrations (1 statement(s) up).');
    const unchanged = context({
      ...fakeMigrator(),
      create: async () => ({ fileName: '', code: '', diff: { up: [], down: [] } }),
    });
    expect(await runCommand({ command: 'migration:create' }, unchanged.ctx)).toBe(EXIT.ok);
    expect(unchanged.output()).toContain('No changes');
  });
});
