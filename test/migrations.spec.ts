import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { EntityClass } from '@mikro-orm/core';
import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import pg from 'pg';
import {
  MigrationError,
  NodeRegistry,
  ShardingMigrator,
  ShardingModule,
  type ShardingMigrationsOptions,
  type ShardMigrationResult,
} from '../lib/index.js';
import { migrationLockKey } from '../lib/schema/migration-lock.js';
import { startEmbeddedTopology, type EmbeddedServer, type EmbeddedTopology } from '../lib/testing/index.js';
import { Gadget, Widget } from './support/migration-entities.js';

// 3 shards × (primary + 1 streaming replica), one folder of migration files for all of them. The tests
// run in order on the same servers: each builds on the ledgers the previous ones left.
let topology: EmbeddedTopology;
let dir: string;
const apps: INestApplicationContext[] = [];
const SHARDS = ['s0', 's1', 's2'];

const migrationOptions = (): ShardingMigrationsOptions => ({
  path: dir,
  silent: true,
  lockTimeoutMs: 20_000,
  replicaTimeoutMs: 20_000,
});

async function start(entities: EntityClass<object>[] = [Widget], migrations: ShardingMigrationsOptions = {}) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ShardingModule.forRoot({
        shards: topology.shards,
        mikroOrm: { entities },
        migrations: { ...migrationOptions(), ...migrations },
        health: { intervalMs: 100 },
      }),
    ],
  }).compile();
  const app = await moduleRef.init();
  apps.push(app);
  return { app, migrator: app.get(ShardingMigrator), registry: app.get(NodeRegistry) };
}

const hasTable = async (server: EmbeddedServer, table: string) =>
  (await server.query<{ t: string | null }>('select to_regclass($1)::text as t', [table]))[0].t !== null;

const ledger = async (server: EmbeddedServer) =>
  (await server.query<{ name: string }>('select name from mikro_orm_migrations order by id')).map((r) => r.name);

/** Writes a migration file by hand (TypeScript, as MikroORM's generator does by default). */
async function writeMigration(name: string, up: string[], down: string[]): Promise<void> {
  const sql = (statements: string[]) => statements.map((s) => `    this.addSql(${JSON.stringify(s)});\n`).join('');
  await writeFile(
    join(dir, `${name}.ts`),
    `import { Migration } from '@mikro-orm/migrations';\n\nexport class ${name} extends Migration {\n` +
      `  override up(): void {\n${sql(up)}  }\n\n  override down(): void {\n${sql(down)}  }\n}\n`,
  );
}

async function rejection(promise: Promise<unknown>): Promise<MigrationError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(MigrationError);
    return error as MigrationError;
  }
  throw new Error('expected a MigrationError');
}

const byShard = (results: readonly ShardMigrationResult[]) => Object.fromEntries(results.map((r) => [r.shard, r]));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  await mkdir(join(process.cwd(), '.build'), { recursive: true });
  // inside the project: the migration files import @mikro-orm/migrations from its node_modules
  dir = await mkdtemp(join(process.cwd(), '.build', 'migrations-spec-'));
  topology = await startEmbeddedTopology({ shards: 3, replicasPerShard: 1 });
});

afterAll(async () => {
  for (const app of apps.splice(0)) await app.close();
  await topology?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ShardingMigrator', () => {
  let widgets: string;

  it('create() diffs the entities against the canary and writes one file; up() migrates every primary, its replicas follow, each ledger lists it', async () => {
    // a library table on the canary must stay out of generated migrations
    await topology
      .server('s0')
      .query('create table if not exists sharding_metadata (key text primary key, value text)');
    const { migrator } = await start();

    const created = await migrator.create({ name: 'widgets' });
    expect(created.fileName).toMatch(/^Migration\d{14}_widgets\.ts$/);
    expect(created.code).toContain('create table "widgets"');
    expect(created.code).not.toMatch(/sharding_metadata|mikro_orm_migrations/);
    widgets = created.fileName.replace(/\.ts$/, '');
    expect(await migrator.pending()).toEqual({ s0: [widgets], s1: [widgets], s2: [widgets] });

    const results = await migrator.up();
    expect(results).toEqual(SHARDS.map((shard) => ({ shard, node: `${shard}/primary`, applied: [widgets] })));
    for (const shard of SHARDS) {
      // up() resolved only once every replica replayed it: no wait here
      expect(await hasTable(topology.server(shard), 'widgets')).toBe(true);
      expect(await hasTable(topology.server(shard, 'replica', 0), 'widgets')).toBe(true);
      expect(await ledger(topology.server(shard))).toEqual([widgets]);
    }
    expect(await migrator.status()).toEqual(
      SHARDS.map((shard) => ({ shard, node: `${shard}/primary`, executed: [widgets], pending: [] })),
    );
    expect(await migrator.executed()).toEqual({ s0: [widgets], s1: [widgets], s2: [widgets] });
    expect(await migrator.known()).toEqual([widgets]);

    // again: nothing left anywhere; and the entities match the canary now (no file written)
    expect((await migrator.up()).map((r) => r.applied)).toEqual([[], [], []]);
    expect((await migrator.create()).fileName).toBe('');
  });

  it('a shard that fails keeps its previous version, the others keep theirs; up() again migrates only that shard', async () => {
    const { migrator } = await start([Widget, Gadget]);
    const gadgets = (await migrator.create({ name: 'gadgets' })).fileName.replace(/\.ts$/, '');
    expect(gadgets).toMatch(/_gadgets$/);
    await topology.server('s1').query('create table gadgets (id int)'); // by hand: the migration conflicts there

    const error = await rejection(migrator.up());
    expect(error.message).toMatch(/failed on 1 of 3 shards: s1 \(s1\/primary\)/);
    const results = byShard(error.results);
    expect(results.s0).toEqual({ shard: 's0', node: 's0/primary', applied: [gadgets] });
    expect(results.s2).toEqual({ shard: 's2', node: 's2/primary', applied: [gadgets] });
    expect(results.s1).toMatchObject({ shard: 's1', node: 's1/primary', applied: [] });
    expect(results.s1.failed).toEqual({ migration: gadgets, message: expect.stringMatching(/already exists/) });
    const password = topology.server('s0').connection.password;
    expect(error.message + JSON.stringify(error.results)).not.toContain(password);
    expect(await ledger(topology.server('s1'))).toEqual([widgets]);
    expect(await ledger(topology.server('s2'))).toEqual([widgets, gadgets]);
    expect((await migrator.pending()).s1).toEqual([gadgets]);

    await topology.server('s1').query('drop table gadgets');
    expect(byShard(await migrator.up())).toEqual({
      s0: { shard: 's0', node: 's0/primary', applied: [] },
      s1: { shard: 's1', node: 's1/primary', applied: [gadgets] },
      s2: { shard: 's2', node: 's2/primary', applied: [] },
    });
    expect(await hasTable(topology.server('s1', 'replica', 0), 'gadgets')).toBe(true);
    for (const shard of SHARDS) expect(await ledger(topology.server(shard))).toEqual([widgets, gadgets]);
  });

  it('the canary fails: no other shard is touched', async () => {
    const { migrator } = await start();
    const name = 'Migration20990101000001_canary';
    await writeMigration(name, ['create table canary_things (id int)'], ['drop table canary_things']);
    await topology.server('s0').query('create table canary_things (id int)');

    const error = await rejection(migrator.up());
    expect(error.message).toMatch(
      /canary shard s0 \(s0\/primary\) in Migration20990101000001_canary: .*already exists/,
    );
    expect(error.message).toMatch(/no other shard was touched/);
    expect(byShard(error.results)).toEqual({
      s0: { shard: 's0', node: 's0/primary', applied: [], failed: { migration: name, message: expect.any(String) } },
      s1: { shard: 's1', node: 's1/primary', applied: [], skipped: true },
      s2: { shard: 's2', node: 's2/primary', applied: [], skipped: true },
    });
    for (const shard of ['s1', 's2']) {
      expect(await ledger(topology.server(shard))).not.toContain(name);
      expect(await hasTable(topology.server(shard), 'canary_things')).toBe(false);
    }

    await topology.server('s0').query('drop table canary_things');
    expect((await migrator.up()).map((r) => r.applied)).toEqual([[name], [name], [name]]);
  });

  it('two runners at once (two processes): each migration executed exactly once per shard', async () => {
    const name = 'Migration20990101000002_counted';
    await writeMigration(
      name,
      ['create table if not exists run_log (n int)', 'insert into run_log values (1)', 'select pg_sleep(0.3)'],
      ['drop table run_log'],
    );
    const env = {
      ...process.env,
      MIGRATE_OPTIONS: JSON.stringify({ shards: topology.shards, migrations: migrationOptions() }),
    };
    const script = join(process.cwd(), 'test', 'support', 'migrate-child.mjs');
    const runners = [0, 1].map(() => {
      const child = spawn(process.execPath, ['--no-warnings', script], {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const lines = createInterface({ input: child.stdout });
      const output: string[] = [];
      const ready = new Promise<void>((resolve, reject) => {
        lines.on('line', (line) => (line === 'ready' ? resolve() : output.push(line)));
        child.on('exit', (code) => reject(new Error(`runner exited (${code}) before it was ready: ${stderr}`)));
      });
      const done = new Promise<{ results: ShardMigrationResult[]; error?: string }>((resolve, reject) =>
        child.on('exit', (code) =>
          output.length
            ? resolve(JSON.parse(output[output.length - 1]))
            : reject(new Error(`runner ${code}: ${stderr}`)),
        ),
      );
      return { child, ready, done };
    });
    await Promise.all(runners.map((r) => r.ready));
    for (const { child } of runners) child.stdin.write('go\n');
    const outcomes = await Promise.all(runners.map((r) => r.done));

    expect(outcomes.map((o) => o.error)).toEqual([undefined, undefined]);
    for (const shard of SHARDS) {
      const applied = outcomes.flatMap((o) => byShard(o.results)[shard].applied);
      expect(applied).toEqual([name]); // one runner applied it, the other found nothing pending
      const rows = await topology
        .server(shard)
        .query<{ n: string }>('select count(*) as n from mikro_orm_migrations where name = $1', [name]);
      expect(Number(rows[0].n)).toBe(1);
      const [{ n }] = await topology.server(shard).query<{ n: string }>('select count(*) as n from run_log');
      expect(Number(n)).toBe(1);
    }
  });

  it('down() reverts the last migration on every shard, replicas included', async () => {
    const { migrator } = await start();
    const name = 'Migration20990101000002_counted';
    const results = await migrator.down();
    expect(results).toEqual(SHARDS.map((shard) => ({ shard, node: `${shard}/primary`, applied: [name] })));
    for (const shard of SHARDS) {
      expect(await ledger(topology.server(shard))).not.toContain(name);
      expect(await hasTable(topology.server(shard, 'replica', 0), 'run_log')).toBe(false);
    }
    expect(await migrator.pending()).toEqual({ s0: [name], s1: [name], s2: [name] });
    expect((await migrator.up({ shards: ['s1'] })).map((r) => [r.shard, r.applied])).toEqual([['s1', [name]]]);
    await expect(migrator.down({ shards: ['nope'] })).rejects.toThrow(/nope/);
  });

  it('a shard whose lock another runner holds past lockTimeoutMs fails, naming the node; the others run', async () => {
    const { migrator } = await start([Widget], { lockTimeoutMs: 300 });
    const { dbName, ...connection } = topology.server('s1').connection;
    const holder = new pg.Client({ ...connection, database: dbName });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1::bigint)', [migrationLockKey('mikro_orm_migrations')]);
      const error = await rejection(migrator.up());
      const results = byShard(error.results);
      expect(results.s1.failed?.message).toMatch(
        /another runner held the migration lock of s1\/primary .*lockTimeoutMs \(300 ms\)/,
      );
      // the others ran: they applied what down() had left pending there
      expect(results.s0).toEqual({ shard: 's0', node: 's0/primary', applied: ['Migration20990101000002_counted'] });
      expect(results.s2).toEqual({ shard: 's2', node: 's2/primary', applied: ['Migration20990101000002_counted'] });
    } finally {
      await holder.end();
    }
  });

  it('verifyOnStart: shards with different executed migrations refuse the start (fail), naming what each lacks', async () => {
    const { migrator: first } = await start();
    await first.down({ shards: ['s1'] }); // s1 now lacks the last migration
    const refused = await start([Widget], { verifyOnStart: 'fail' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(MigrationError);
    expect((refused as Error).message).toMatch(/s1 lacks Migration20990101000002_counted/);
    const { migrator } = await start([Widget], { verifyOnStart: 'warn' }); // starts, logs the same
    expect((await migrator.up()).map((r) => [r.shard, r.applied.length])).toEqual([
      ['s0', 0],
      ['s1', 1],
      ['s2', 0],
    ]);
    await start([Widget], { verifyOnStart: 'fail' }); // level again: starts
  });

  it('down() reverts the fleet’s newest migration only where it ran; an unknown name runs nothing', async () => {
    const { migrator } = await start();
    const before = await migrator.executed();
    await expect(migrator.down({ to: 'Migration_typo' })).rejects.toThrow(/No migration file is named Migration_typo/);
    await expect(migrator.up({ migrations: ['Nope'] })).rejects.toThrow(MigrationError);
    expect(await migrator.executed()).toEqual(before);
    const newest = before.s0.at(-1)!;
    await migrator.down({ shards: ['s1'] }); // s1 falls behind by one
    const results = byShard(await migrator.down());
    // the shard left behind is not rolled back further: it reverts nothing
    expect([results.s0.applied, results.s1.applied, results.s2.applied]).toEqual([[newest], [], [newest]]);
    expect(new Set(Object.values(await migrator.executed()).map((names) => names.join()))).toHaveProperty('size', 1);
    await migrator.up();
    expect(await migrator.executed()).toEqual(before);
  });

  it('after pg_promote() of a replica, up() runs on the promoted node', async () => {
    const { migrator, registry } = await start();
    const promoted = topology.server('s2', 'replica', 0);
    await promoted.query('select pg_promote(true, 30)');
    await until('s2/replica-1 is the acting primary', () => registry.acting('s2').primary.id === 's2/replica-1');

    const name = 'Migration20990101000003_promoted';
    await writeMigration(name, ['create table promoted_things (id int)'], ['drop table promoted_things']);
    const results = byShard(await migrator.up({ to: name }));
    expect(results.s2).toEqual({
      shard: 's2',
      node: 's2/replica-1',
      applied: [name],
    });
    expect(results.s0.applied).toEqual([name]);
    expect(await hasTable(promoted, 'promoted_things')).toBe(true);
    expect(await hasTable(topology.server('s2'), 'promoted_things')).toBe(false); // the demoted primary
    expect((await migrator.status()).find((s) => s.shard === 's2')).toMatchObject({
      node: 's2/replica-1',
      pending: [],
    });
  });
});
