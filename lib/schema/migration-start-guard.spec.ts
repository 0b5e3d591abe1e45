import { MigrationError } from '../errors/migration.error.js';
import { ShardingError } from '../errors/sharding.error.js';
import { missingMigrations, verifyMigrationsOnStart } from './migration-start-guard.js';

/** A logger that keeps its lines. */
const logger = () => {
  const lines: string[] = [];
  return { lines, warn: (line: string) => lines.push(line) };
};

describe('verifyMigrationsOnStart', () => {
  const agreeing = { s0: ['m1', 'm2'], s1: ['m1', 'm2'], s2: ['m1', 'm2'] };
  const differing = { s0: ['m1', 'm2', 'm3'], s1: ['m1'], s2: ['m1', 'm2', 'm3'], s3: ['m1', 'm3'] };

  it('says nothing when every shard executed the same migrations, in every mode', () => {
    for (const mode of ['off', 'warn', 'fail'] as const) {
      const log = logger();
      expect(verifyMigrationsOnStart(agreeing, mode, log)).toEqual({});
      expect(log.lines).toEqual([]);
    }
  });

  it('warn: logs one line naming each shard and what it lacks relative to the union', () => {
    const log = logger();
    expect(verifyMigrationsOnStart(differing, 'warn', log)).toEqual({ s1: ['m2', 'm3'], s3: ['m2'] });
    expect(log.lines).toHaveLength(1);
    const [line] = log.lines;
    expect(line).not.toContain('\n');
    expect(line).toContain('s1 lacks m2, m3; s3 lacks m2');
    expect(line).not.toMatch(/s0|s2 /);
  });

  it('fail: throws a MigrationError (a ShardingError, empty results) naming the shards and what each lacks', () => {
    const log = logger();
    let thrown: unknown;
    try {
      verifyMigrationsOnStart(differing, 'fail', log);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MigrationError);
    expect(thrown).toBeInstanceOf(ShardingError);
    expect((thrown as MigrationError).results).toEqual([]);
    expect((thrown as Error).message).toContain('s1 lacks m2, m3; s3 lacks m2');
    expect((thrown as Error).message).toContain('refuses to start');
    expect(log.lines).toEqual([]);
  });

  it('off: does not look', () => {
    const log = logger();
    expect(verifyMigrationsOnStart(differing, 'off', log)).toEqual({});
    expect(log.lines).toEqual([]);
  });

  it('a shard with nothing executed lacks everything; long lists are cut with a count', () => {
    const many = Array.from({ length: 8 }, (_, i) => `m${i + 1}`);
    const log = logger();
    verifyMigrationsOnStart({ s0: many, s1: [] }, 'warn', log);
    expect(log.lines[0]).toContain('s1 lacks m1, m2, m3, m4, m5 and 3 more');
  });

  it('missingMigrations: names in the order they first appear, shards lacking nothing left out', () => {
    expect(missingMigrations({ a: ['x', 'y'], b: ['z'], c: ['x', 'y', 'z'] })).toEqual({ a: ['z'], b: ['x', 'y'] });
    expect(missingMigrations({})).toEqual({});
    expect(missingMigrations({ only: ['x'] })).toEqual({});
  });
});
