import { MigrationError } from '../errors/migration.error.js';
import { LIBRARY_TABLES } from '../topology/library-tables.js';
import type { NodeRegistry } from '../topology/node-registry.js';
import type { ShardNode } from '../topology/shard-node.js';
import { noAnswerWithin, withTimeout } from '../topology/with-timeout.js';
import { catalogFingerprint, compareCatalogs, readCatalog, type Catalog } from './catalog-fingerprint.js';
import type { DriftReport, ShardDrift, ShardMigrationResult } from './migration.types.js';

/** What the migrator knows of each shard's ledger and of the migration files. */
export interface MigrationLedger {
  /** Per shard: migration names executed there (its ledger), oldest first. */
  executed: Record<string, string[]>;
  /** Per shard: migration files not executed there yet. */
  pending: Record<string, string[]>;
  /** Every migration name the files define. */
  known: string[];
}

/** Options of {@link detectDrift}. */
export interface DetectDriftOptions {
  /** Bound on each shard's catalog query and schema comparison. @default 30000 */
  timeoutMs?: number;
  /**
   * The migrations ledger table (MikroORM's `migrations.tableName`, possibly `schema.table`): never part of
   * the catalog or of the schema diff. @default the node ORM's `migrations.tableName` (`mikro_orm_migrations`)
   */
  migrationsTable?: string;
}

/**
 * Drift of every shard, each on its **acting** primary, in parallel: migrations pending there, executed
 * names the files do not know, the SQL MikroORM's schema generator would still run to match the entities,
 * and a fingerprint of the catalog (tables, columns, indexes, constraints) compared across shards, so an
 * index added by hand on one shard is named even where the entities cannot see it. `ok` when no shard has
 * any of these. Rejects with `MigrationError` (one result per shard, `failed` set on those) when a shard
 * cannot be read: a check that did not look is not a clean check.
 */
export async function detectDrift(
  registry: NodeRegistry,
  ledger: MigrationLedger,
  options: DetectDriftOptions = {},
): Promise<DriftReport> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const known = new Set(ledger.known.map(migrationName));
  const nodes = registry.shardNames.map((shard) => registry.acting(shard).primary);
  const settled = await Promise.allSettled(
    nodes.map((node) => inspect(node, options.migrationsTable ?? ledgerTableOf(node), timeoutMs)),
  );

  const failures = settled.flatMap((outcome, i) =>
    outcome.status === 'rejected' ? [{ i, error: outcome.reason }] : [],
  );
  if (failures.length) {
    const results: ShardMigrationResult[] = nodes.map((node, i) => {
      const failure = failures.find((f) => f.i === i);
      return {
        shard: node.shard,
        node: node.id,
        applied: [],
        ...(failure && { failed: { message: messageOf(failure.error) } }),
      };
    });
    throw new MigrationError(
      `Drift check could not read ${failures.length} shard${failures.length === 1 ? '' : 's'}: ` +
        failures.map(({ i, error }) => `${nodes[i].shard} (${nodes[i].id}): ${messageOf(error)}`).join('; ') +
        '. Check that each acting primary is reachable, then run the check again.',
      results,
      { cause: failures[0].error },
    );
  }

  const inspected = settled.map((outcome) => (outcome as PromiseFulfilledResult<Inspection>).value);
  const differences = compareCatalogs(
    Object.fromEntries(inspected.map((inspection, i) => [nodes[i].shard, inspection.catalog])),
  );
  const shards: ShardDrift[] = nodes.map((node, i) => ({
    shard: node.shard,
    node: node.id,
    pending: [...(ledger.pending[node.shard] ?? [])],
    unknownExecuted: (ledger.executed[node.shard] ?? []).filter((name) => !known.has(migrationName(name))),
    schemaDiff: inspected[i].schemaDiff,
    fingerprint: catalogFingerprint(inspected[i].catalog),
    catalogDifferences: differences[node.shard] ?? [],
  }));
  const ok = shards.every(
    (s) => !s.pending.length && !s.unknownExecuted.length && !s.schemaDiff.length && !s.catalogDifferences.length,
  );
  return { ok, shards };
}

interface Inspection {
  schemaDiff: string[];
  catalog: Catalog;
}

async function inspect(node: ShardNode, ledgerTable: string, timeoutMs: number): Promise<Inspection> {
  const ledgerName = ledgerTable.split('.').pop()!;
  const config = node.orm.config;
  const [schemaDiff, catalog] = await Promise.all([
    withTimeout(
      node.orm.schema.getUpdateSchemaSQL({ wrap: false, safe: true, dropTables: false }),
      timeoutMs,
      noAnswerWithin(timeoutMs),
    ).then((sql) => splitStatements(sql).filter((statement) => !dropsTable(statement, ledgerName))),
    readCatalog(node.control, {
      excludeTables: [ledgerName, ...Object.values(LIBRARY_TABLES)],
      defaultSchema: config.get('schema') ?? node.orm.em.getPlatform().getDefaultSchemaName() ?? 'public',
      timeoutMs,
    }),
  ]);
  return { schemaDiff, catalog };
}

function ledgerTableOf(node: ShardNode): string {
  return node.orm.config.get('migrations')?.tableName ?? 'mikro_orm_migrations';
}

/** The ledger table's own drop (a ledger named other than the node ORM's config says): not drift. */
function dropsTable(statement: string, table: string): boolean {
  const quoted = `"${table.replaceAll('"', '""')}"`;
  return /^drop table\b/i.test(statement) && (statement.includes(`${quoted} `) || statement.includes(`${quoted};`));
}

/**
 * The generator's SQL as statements: lines joined until one ends a statement (`;` outside a string
 * literal), empty lines and `--` comments dropped.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  for (const raw of sql.split('\n')) {
    const line = raw.trim();
    if (!current.length && (line === '' || line.startsWith('--'))) continue;
    current.push(raw.trimEnd());
    const text = current.join('\n');
    const quotes = (text.match(/'/g) ?? []).length;
    if (line.endsWith(';') && quotes % 2 === 0) {
      statements.push(text.trim());
      current = [];
    }
  }
  const rest = current.join('\n').trim();
  if (rest) statements.push(rest);
  return statements;
}

/** Migration names as ledgers and files give them, without a file extension. */
const migrationName = (name: string) => name.replace(/\.(?:[cm]?[jt]s|d\.ts)$/, '');

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
