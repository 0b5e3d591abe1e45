import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { defineEntity, p } from '@mikro-orm/postgresql';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ShardingMigrator, ShardingModule, type ShardMigrationResult } from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { median, ms } from './stats.js';

const BenchMigrationItemSchema = defineEntity({
  name: 'BenchMigrationItem',
  tableName: 'bench_migration_items',
  properties: {
    id: p.integer().primary().autoincrement(),
    sku: p.string().index(),
    name: p.string(),
    price: p.integer(),
    createdAt: p.datetime(),
  },
});
class BenchMigrationItem extends BenchMigrationItemSchema.class {}
BenchMigrationItemSchema.setClass(BenchMigrationItem);

const SHARDS = 8;
const CONCURRENCIES: readonly number[] = [1, 4, 8];
const ROUNDS = 3;
const CHECK_RUNS = 5;

/**
 * `ShardingMigrator` on 8 shards: one migration's `up()` with concurrency 1, 4 and 8 (wall time, a fresh
 * application context per run, settings interleaved), and `check()` on the migrated fleet.
 */
export async function migrationsBench(): Promise<string> {
  await mkdir(join(process.cwd(), '.build'), { recursive: true });
  // inside the project: the migration files require @mikro-orm/migrations from its node_modules
  const dir = await mkdtemp(join(process.cwd(), '.build', 'migrations-bench-'));
  await writeFile(join(dir, 'package.json'), '{ "type": "commonjs" }\n');
  const apps: INestApplicationContext[] = [];
  let topology: EmbeddedTopology | undefined;
  const loadBefore = loadavg()[0];
  try {
    topology = await startEmbeddedTopology({ shards: SHARDS, replicasPerShard: 0 });
    const servers = topology;
    const start = async (concurrency: number) => {
      const app = await NestFactory.createApplicationContext(
        ShardingModule.forRoot({
          shards: servers.shards,
          mikroOrm: { entities: [BenchMigrationItem] },
          // `emit: 'js'` writes CommonJS `.js` files: the folder's package.json says so (this package is ESM)
          migrations: { path: dir, emit: 'js', silent: true, concurrency, verifyOnStart: 'off' },
        }),
        { logger: false },
      );
      apps.push(app);
      return app;
    };
    const close = async (app: INestApplicationContext) => {
      apps.splice(apps.indexOf(app), 1);
      await app.close();
    };

    const creating = await start(1);
    const created = await creating.get(ShardingMigrator).create({ name: 'bench_items' });
    await close(creating);
    if (!created.fileName) throw new Error('create() wrote no migration');
    const migration = created.fileName.replace(/\.js$/, '');
    const expectApplied = (results: ShardMigrationResult[], direction: string) => {
      const wrong = results.filter((r) => r.failed || r.applied.join() !== migration);
      if (results.length !== SHARDS || wrong.length) {
        throw new Error(`${direction}() did not ${direction} ${migration} on every shard: ${JSON.stringify(results)}`);
      }
    };

    // round by round, every setting once: machine noise falls on all of them alike
    const runs = new Map<number, number[]>(CONCURRENCIES.map((c) => [c, []]));
    // round -1: warm-up, not kept (the process's first run loads MikroORM's migrator and the migration file)
    for (let round = -1; round < ROUNDS; round++) {
      for (const concurrency of CONCURRENCIES) {
        const app = await start(concurrency);
        const migrator = app.get(ShardingMigrator);
        const started = performance.now();
        const results = await migrator.up();
        if (round >= 0) runs.get(concurrency)!.push(performance.now() - started);
        expectApplied(results, 'up');
        expectApplied(await migrator.down(), 'down');
        await close(app);
      }
    }

    const checking = await start(4);
    const migrator = checking.get(ShardingMigrator);
    expectApplied(await migrator.up(), 'up');
    const checks: number[] = [];
    let ok = true;
    for (let i = 0; i < CHECK_RUNS; i++) {
      const started = performance.now();
      const report = await migrator.check();
      checks.push(performance.now() - started);
      ok &&= report.ok;
    }
    if (!ok) throw new Error('check() found drift on the migrated fleet');
    await close(checking);
    const loadAfter = loadavg()[0];

    const medians = new Map(CONCURRENCIES.map((c) => [c, median(runs.get(c)!)]));
    const base = medians.get(1)!;
    const ratio = (c: number) => medians.get(c)! / base;
    const statements = created.code.match(/this\.addSql\(/g)?.length ?? 0;
    return [
      `### Migrations: \`up()\` of one migration on ${SHARDS} shards, concurrency 1 vs 4 vs 8`,
      '',
      `${SHARDS} shards, primaries only (embedded, fast mode: \`fsync = off\`). One migration written by \`create()\` ` +
        `(MikroORM's generator, \`emit: 'js'\`: CommonJS): a table of 5 columns and an index on one of them (${statements} statements ` +
        `in \`up()\`). Each run is a fresh \`ShardingModule\` application context with \`migrations.concurrency\` set, ` +
        'as a one-shot CLI run would be: `up()` is timed (wall), then `down()` resets the shards (not timed) and the ' +
        `context is closed. One warm-up round (not kept), then ${ROUNDS} rounds, each setting once per round in the ` +
        'order 1, 4, 8; median wall time. ' +
        `\`up()\` runs the canary shard alone first, then the ${SHARDS - 1} others \`concurrency\` at a time ` +
        `(so 8 is ${SHARDS - 1} at once); ` +
        'on each shard: the advisory lock, the ledger read, the migration in its transaction, the ledger write. The ' +
        'time includes opening each shard’s pool (the first query of a fresh context).',
      '',
      '**Two shared cores.** This process and all 8 PostgreSQL servers share 2 cores, so beyond 2 shards at ' +
        'once concurrency mostly overlaps round trips and waits (commits, locks) rather than adding CPU. On servers ' +
        'of their own the gain from concurrency would be larger.',
      '',
      '| setting | median wall | ratio to concurrency 1 | runs |',
      '|---|---|---|---|',
      ...CONCURRENCIES.map(
        (c) =>
          `| concurrency ${c} | ${ms(medians.get(c)!)} | ${ratio(c).toFixed(2)} | ` +
          `${runs
            .get(c)!
            .map((r) => r.toFixed(0))
            .join(', ')} |`,
      ),
      `| \`check()\` on ${SHARDS} shards, migrated (pending, unknown, schema diff, catalog fingerprints) | ` +
        `${ms(median(checks))} | — | ${checks.map((r) => r.toFixed(0)).join(', ')} |`,
      '',
      `- up on ${SHARDS} shards at concurrency 4 / 1: **${ratio(4).toFixed(2)}×** (${ms(medians.get(4)!)} vs ${ms(base)})`,
      `- up on ${SHARDS} shards at concurrency 8 / 1: **${ratio(8).toFixed(2)}×** (${ms(medians.get(8)!)})`,
      `- check() on ${SHARDS} shards: **${ms(median(checks))}** (median of ${CHECK_RUNS}, every report \`ok\`)`,
      '',
      `Load average (1 min) of this 2-core machine: ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after.`,
      '',
    ].join('\n');
  } finally {
    for (const app of apps.splice(0)) await app.close().catch(() => undefined);
    await topology?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
