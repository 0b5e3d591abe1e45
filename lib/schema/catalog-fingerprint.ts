import { createHash } from 'node:crypto';
import type { NodeControlConnection } from '../topology/node-control-connection.js';

/** One object of a shard's catalog: a table, a column, an index or a constraint. */
export interface CatalogEntry {
  kind: 'table' | 'column' | 'index' | 'constraint';
  /** The table it belongs to (the table itself for `table`), schema-qualified outside the default schema. */
  table: string;
  /** The column's, index's or constraint's name (the table's for `table`). */
  name: string;
  /**
   * What is compared across shards, attribute by attribute: a column's `type`, `nullable`, `default`
   * (and `identity`, `generated` when set); an index's or constraint's normalized `definition`.
   */
  attributes: Record<string, string>;
}

/** A shard's catalog for the application's tables, in a stable order. */
export type Catalog = CatalogEntry[];

/** Schemas that are PostgreSQL's own. */
const SYSTEM_SCHEMAS = `n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%'`;

/**
 * Every table of the non-system schemas (minus `$1`, and minus tables an extension owns), its columns,
 * its indexes (those that back a constraint are listed as the constraint) and its constraints (PostgreSQL
 * 18's NOT NULL constraints are left out: the column's nullability says it).
 */
const CATALOG_SQL = `
with rels as (
  select c.oid, n.nspname as schema, quote_ident(n.nspname) as qschema, c.relname as "table"
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p') and ${SYSTEM_SCHEMAS}
    and c.relname <> all($1::text[])
    and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
)
select 'table' as kind, r.schema, r.qschema, r."table", r."table" as name,
       null::text as type, null::boolean as not_null, null::text as "default", null::text as identity,
       null::text as generated, null::text as definition
from rels r
union all
select 'column', r.schema, r.qschema, r."table", a.attname,
       format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
       nullif(a.attidentity::text, ''), nullif(a.attgenerated::text, ''), null
from rels r
join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
union all
select 'index', r.schema, r.qschema, r."table", ic.relname, null, null, null, null, null, pg_get_indexdef(i.indexrelid)
from rels r
join pg_index i on i.indrelid = r.oid
join pg_class ic on ic.oid = i.indexrelid
where not exists (select 1 from pg_constraint k where k.conrelid = r.oid and k.conindid = i.indexrelid)
union all
select 'constraint', r.schema, r.qschema, r."table", k.conname, null, null, null, null, null, pg_get_constraintdef(k.oid)
from rels r
join pg_constraint k on k.conrelid = r.oid
where k.contype <> 'n'`;

interface CatalogRow {
  kind: CatalogEntry['kind'];
  schema: string;
  qschema: string;
  table: string;
  name: string;
  type: string | null;
  not_null: boolean | null;
  default: string | null;
  identity: string | null;
  generated: string | null;
  definition: string | null;
}

/**
 * Reads a node's catalog over its control connection. `excludeTables`: table names left out wherever
 * they are (the migrations ledger, the library's own tables). `defaultSchema`: tables there are named
 * without their schema.
 */
export async function readCatalog(
  control: Pick<NodeControlConnection, 'query'>,
  options: { excludeTables: readonly string[]; defaultSchema?: string; timeoutMs: number },
): Promise<Catalog> {
  const rows = await control.query<CatalogRow>(CATALOG_SQL, options.timeoutMs, [[...options.excludeTables]]);
  return catalogFromRows(rows, options.defaultSchema ?? 'public');
}

/** Rows of the catalog query → normalized, sorted entries (exported for tests). */
export function catalogFromRows(rows: readonly CatalogRow[], defaultSchema: string): Catalog {
  const entries = rows.map((row): CatalogEntry => {
    const table = row.schema === defaultSchema ? row.table : `${row.schema}.${row.table}`;
    const attributes: Record<string, string> = {};
    if (row.kind === 'column') {
      attributes.type = row.type ?? '';
      attributes.nullable = row.not_null ? 'not null' : 'null';
      // a stored generated column keeps its expression where a default would be
      attributes.default = (row.generated ? null : row.default) ?? 'none';
      if (row.identity) attributes.identity = row.identity === 'a' ? 'always' : 'by default';
      if (row.generated) attributes.generated = row.default ?? row.generated;
    } else if (row.definition !== null) {
      attributes.definition = row.kind === 'index' ? unqualifyIndexTable(row.definition, row.qschema) : row.definition;
    }
    return { kind: row.kind, table, name: row.name, attributes };
  });
  return entries.sort((a, b) => compareStrings(entryKey(a), entryKey(b)));
}

/** `pg_get_indexdef` always names the table with its schema: `... ON public.users USING ...` → `ON users`. */
function unqualifyIndexTable(definition: string, qschema: string): string {
  return definition.replace(` ON ${qschema}.`, ' ON ').replace(` ON ONLY ${qschema}.`, ' ON ONLY ');
}

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const entryKey = (entry: Pick<CatalogEntry, 'kind' | 'table' | 'name'>) =>
  `${entry.kind}\u0000${entry.table}\u0000${entry.name}`;

/** A stable hash of a catalog: equal catalogs, whatever their order, give equal fingerprints. */
export function catalogFingerprint(catalog: Catalog): string {
  const lines = catalog
    .map((entry) => {
      const attributes = Object.keys(entry.attributes)
        .sort()
        .map((name) => `${name}=${entry.attributes[name]}`);
      return [entryKey(entry), ...attributes].join('\u0000');
    })
    .sort(compareStrings);
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}

/**
 * Compares each shard's catalog with what most shards have and lists, per shard, what differs in plain
 * words: `extra index "users_name_idx" on users (name)`, `missing column users.age integer`,
 * `column users.email default 'x'::text (others: none)`. An object is expected when more than half of
 * the shards have it (a tie counts as not expected, so the shard that has it more is named); an attribute
 * is expected to have the value most shards that hold the object give it (on a tie, every holder is
 * named). A table that is extra or missing is named once, not with each of its columns, indexes and
 * constraints. Shards like the majority get an empty list; one shard alone has nothing to differ from.
 */
export function compareCatalogs(catalogs: Readonly<Record<string, Catalog>>): Record<string, string[]> {
  const shards = Object.keys(catalogs);
  const differences: Record<string, string[]> = Object.fromEntries(shards.map((shard) => [shard, []]));
  if (shards.length < 2) return differences;

  const byKey = new Map<string, Map<string, CatalogEntry>>();
  for (const shard of shards) {
    for (const entry of catalogs[shard]) {
      const key = entryKey(entry);
      const holders = byKey.get(key) ?? new Map<string, CatalogEntry>();
      holders.set(shard, entry);
      byKey.set(key, holders);
    }
  }
  const majority = (count: number) => count > shards.length / 2;
  const tableHolders = (table: string) => byKey.get(entryKey({ kind: 'table', table, name: table }));
  const keys = [...byKey.keys()].sort(compareStrings);
  // tables first: their own difference hides their parts'
  const ordered = [
    ...keys.filter((key) => key.startsWith('table\u0000')),
    ...keys.filter((key) => !key.startsWith('table\u0000')),
  ];

  for (const key of ordered) {
    const holders = byKey.get(key)!;
    const sample = holders.values().next().value!;
    const parentHolders = sample.kind === 'table' ? undefined : tableHolders(sample.table);
    const parentExpected = parentHolders !== undefined && majority(parentHolders.size);
    if (!majority(holders.size)) {
      for (const [shard, entry] of holders) {
        // the whole table is extra here: already said
        if (parentHolders && !parentExpected && parentHolders.has(shard)) continue;
        differences[shard].push(`extra ${describe(entry)}`);
      }
      continue;
    }
    for (const shard of shards) {
      if (holders.has(shard)) continue;
      // the whole table is missing here: already said
      if (parentHolders && parentExpected && !parentHolders.has(shard)) continue;
      differences[shard].push(`missing ${describe(sample)}`);
    }
    for (const [shard, message] of attributeDifferences(holders)) differences[shard].push(message);
  }
  return differences;
}

/** Per attribute, the shards whose value is not the one most holders give. */
function attributeDifferences(holders: ReadonlyMap<string, CatalogEntry>): [string, string][] {
  const found: [string, string][] = [];
  const names = new Set([...holders.values()].flatMap((entry) => Object.keys(entry.attributes)));
  for (const name of [...names].sort(compareStrings)) {
    const counts = new Map<string, number>();
    for (const entry of holders.values()) {
      const value = entry.attributes[name] ?? 'none';
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    if (counts.size < 2) continue;
    const top = Math.max(...counts.values());
    const leaders = [...counts].filter(([, count]) => count === top).map(([value]) => value);
    const expected = leaders.length === 1 ? leaders[0] : undefined;
    for (const [shard, entry] of holders) {
      const value = entry.attributes[name] ?? 'none';
      if (value === expected) continue;
      const others = [...counts.keys()].filter(
        (other) => other !== value && (expected === undefined || other === expected),
      );
      found.push([shard, attributeDifference(entry, name, value, others)]);
    }
  }
  return found;
}

function attributeDifference(entry: CatalogEntry, attribute: string, value: string, others: string[]): string {
  const othersText = others.map((other) => renderAttribute(entry, attribute, other)).join(' / ');
  const subject =
    entry.kind === 'column' ? `column ${entry.table}.${entry.name}` : `${entry.kind} "${entry.name}" on ${entry.table}`;
  return `${subject} ${renderAttribute(entry, attribute, value)} (others: ${othersText})`;
}

/** How one attribute's value reads: `default 'x'::text`, `not null`, `type text`, `(lower(name))`. */
function renderAttribute(entry: CatalogEntry, attribute: string, value: string): string {
  if (attribute === 'nullable') return value;
  if (attribute === 'definition') return entry.kind === 'index' ? indexShape(value) : value;
  if (value === 'none') return attribute === 'default' ? 'none' : `no ${attribute}`;
  return `${attribute} ${value}`;
}

/** `CREATE UNIQUE INDEX x ON users USING btree (name)` → `unique (name)`; other methods are kept. */
function indexShape(definition: string): string {
  const match = /^CREATE (UNIQUE )?INDEX .*? ON (?:ONLY )?.*? USING (\S+) (.*)$/s.exec(definition);
  if (!match) return definition;
  const [, unique, method, rest] = match;
  return `${unique ? 'unique ' : ''}${method === 'btree' ? '' : `using ${method} `}${rest}`;
}

/** An object in words: `table "users"`, `column users.age integer not null`, `index "x" on users (name)`. */
function describe(entry: CatalogEntry): string {
  const { attributes: a } = entry;
  switch (entry.kind) {
    case 'table':
      return `table "${entry.table}"`;
    case 'column':
      return (
        `column ${entry.table}.${entry.name} ${a.type}` +
        (a.nullable === 'not null' ? ' not null' : '') +
        (a.default && a.default !== 'none' ? ` default ${a.default}` : '') +
        (a.identity ? ` generated ${a.identity} as identity` : '') +
        (a.generated ? ` generated as (${a.generated})` : '')
      );
    case 'index': {
      const shape = indexShape(a.definition ?? '');
      const unique = shape.startsWith('unique ');
      return `${unique ? 'unique ' : ''}index "${entry.name}" on ${entry.table} ${unique ? shape.slice(7) : shape}`;
    }
    case 'constraint':
      return `constraint "${entry.name}" on ${entry.table}: ${a.definition ?? ''}`;
  }
}
