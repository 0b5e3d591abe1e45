import { defineEntity, p } from '@mikro-orm/postgresql';
import { MigrationError } from '../lib/errors/migration.error.js';
import { detectDrift, type MigrationLedger } from '../lib/schema/schema-drift.js';
import { ShardingSchema } from '../lib/schema/sharding-schema.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { NodeRegistry } from '../lib/topology/node-registry.js';

const WidgetSchema = defineEntity({
  name: 'Widget',
  tableName: 'widgets',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string(),
    price: p.integer().default(0),
  },
});
class Widget extends WidgetSchema.class {}
WidgetSchema.setClass(Widget);

/** Every shard executed `m1`, `m2`; the files know both; nothing pending. */
const cleanLedger = (): MigrationLedger => ({
  executed: { s0: ['m1', 'm2'], s1: ['m1', 'm2'], s2: ['m1', 'm2'] },
  pending: {},
  known: ['m1', 'm2'],
});

/**
 * Drift on real servers (3 shards, each with a streaming replica): the schema generator's SQL and the catalog fingerprint compared across
 * shards name what was changed by hand on one shard, even an index the entities cannot see.
 */
describe('detectDrift (3 shards × 1 replica, real PostgreSQL)', () => {
  let topology: EmbeddedTopology;
  let registry: NodeRegistry;

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 3, replicasPerShard: 1 });
    registry = await NodeRegistry.create({ shards: topology.shards, mikroOrm: { entities: [Widget] } });
    await new ShardingSchema(registry).update();
    // the library's own table lives on the first shard only, and a migrations ledger table on each shard
    // (one shard's with an extra row): neither is drift
    await topology.server('s0').query('create table sharding_metadata (key text primary key, value text)');
    for (const shard of ['s0', 's1', 's2']) {
      await topology.server(shard).query('create table mikro_orm_migrations (id serial primary key, name text)');
    }
    await topology.server('s2').query(`create index mikro_orm_migrations_name on mikro_orm_migrations (name)`);
  });

  afterAll(async () => {
    await registry?.close();
    await topology?.stop();
  });

  it('clean: ok, no schema diff, one fingerprint on every shard (library and ledger tables left out)', async () => {
    const report = await detectDrift(registry, cleanLedger());
    expect(report.shards.map((s) => [s.shard, s.node])).toEqual([
      ['s0', 's0/primary'],
      ['s1', 's1/primary'],
      ['s2', 's2/primary'],
    ]);
    for (const shard of report.shards) {
      expect(shard).toMatchObject({ pending: [], unknownExecuted: [], schemaDiff: [], catalogDifferences: [] });
      expect(shard.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(new Set(report.shards.map((s) => s.fingerprint)).size).toBe(1);
    expect(report.ok).toBe(true);
  });

  it('pending migrations and executed names unknown to the files are reported per shard', async () => {
    const ledger = cleanLedger();
    ledger.executed.s1 = ['m1', 'm2', 'm0_from_another_branch'];
    ledger.pending.s2 = ['m3'];
    ledger.known.push('m3');
    const report = await detectDrift(registry, ledger);
    expect(report.ok).toBe(false);
    expect(report.shards.map((s) => [s.shard, s.unknownExecuted, s.pending])).toEqual([
      ['s0', [], []],
      ['s1', ['m0_from_another_branch'], []],
      ['s2', [], ['m3']],
    ]);
    // names with a file extension match the files' names
    const withExtensions = cleanLedger();
    withExtensions.executed.s0 = ['m1.ts', 'm2.js'];
    expect((await detectDrift(registry, withExtensions)).ok).toBe(true);
  });

  describe('changed by hand', () => {
    beforeAll(async () => {
      await topology.server('s1').query(`alter table widgets add column color text default 'red'`);
      await topology.server('s2').query('create index widgets_name_idx on widgets (name)');
    });

    afterAll(async () => {
      await topology.server('s1').query('alter table widgets drop column color');
      await topology.server('s2').query('drop index widgets_name_idx');
    });

    it('a column added on one shard: its catalog difference names the column (the schema diff only adds, never drops)', async () => {
      const report = await detectDrift(registry, cleanLedger());
      expect(report.ok).toBe(false);
      const [s0, s1, s2] = report.shards;
      expect(s1.schemaDiff).toEqual([]);
      expect(s1.catalogDifferences).toEqual(["extra column widgets.color text default 'red'::text"]);
      expect(s0).toMatchObject({ schemaDiff: [], catalogDifferences: [] });
      expect(s1.fingerprint).not.toBe(s0.fingerprint);
      // the other changes: an index on s2
      expect(s2.catalogDifferences).toEqual(['extra index "widgets_name_idx" on widgets (name)']);
      expect(s2.fingerprint).not.toBe(s0.fingerprint);
      expect(new Set(report.shards.map((s) => s.fingerprint)).size).toBe(3);
    });

    it('an extra index on another shard is named by the catalog comparison whatever the generator sees', async () => {
      const { shards } = await detectDrift(registry, cleanLedger());
      const s2 = shards.find((s) => s.shard === 's2')!;
      expect(s2.catalogDifferences).toEqual(['extra index "widgets_name_idx" on widgets (name)']);
      // the schema generator, if it sees the index at all, can only say to drop it
      for (const statement of s2.schemaDiff) expect(statement).toMatch(/widgets_name_idx/);
    });
  });

  it('a changed default on one shard is named with what the others have', async () => {
    await topology.server('s0').query('alter table widgets alter column price set default 5');
    try {
      const { shards, ok } = await detectDrift(registry, cleanLedger());
      expect(ok).toBe(false);
      expect(shards[0].catalogDifferences).toEqual(['column widgets.price default 5 (others: default 0)']);
      expect(shards[0].schemaDiff.join('\n')).toMatch(/price/);
    } finally {
      await topology.server('s0').query(`alter table widgets alter column price set default 0`);
    }
    expect((await detectDrift(registry, cleanLedger())).ok).toBe(true);
  });

  it('runs on the acting primary: after a promotion, the promoted node is checked', async () => {
    const promoted = registry.nodes.find((node) => node.id === 's2/replica-1')!;
    await topology.server('s2', 'replica').query('select pg_promote(true, 30)');
    registry.setActingPrimary('s2', promoted);
    await topology.server('s2', 'replica').query('create index widgets_price_idx on widgets (price)');
    const { shards } = await detectDrift(registry, cleanLedger());
    expect(shards[2]).toMatchObject({
      shard: 's2',
      node: 's2/replica-1',
      catalogDifferences: ['extra index "widgets_price_idx" on widgets (price)'],
    });
    // the configured primary, left behind, does not have it
    expect(await topology.server('s2').query(`select to_regclass('widgets_price_idx') as i`)).toEqual([{ i: null }]);
  });

  it('rejects with MigrationError naming a shard it cannot read', async () => {
    const server = topology.server('s1');
    await server.stop();
    try {
      const error = await detectDrift(registry, cleanLedger(), { timeoutMs: 5_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as Error).message).toMatch(/could not read 1 shard: s1 \(s1\/primary\)/);
      expect((error as MigrationError).results.map((r) => [r.shard, r.failed !== undefined])).toEqual([
        ['s0', false],
        ['s1', true],
        ['s2', false],
      ]);
    } finally {
      await server.start();
    }
  });
});
