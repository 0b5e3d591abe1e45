import {
  catalogFingerprint,
  catalogFromRows,
  compareCatalogs,
  type Catalog,
  type CatalogEntry,
} from './catalog-fingerprint.js';

const table = (name: string): CatalogEntry => ({ kind: 'table', table: name, name, attributes: {} });
const column = (tbl: string, name: string, type: string, more: Partial<Record<string, string>> = {}): CatalogEntry => ({
  kind: 'column',
  table: tbl,
  name,
  attributes: { type, nullable: 'not null', default: 'none', ...more } as Record<string, string>,
});
const index = (tbl: string, name: string, definition: string): CatalogEntry => ({
  kind: 'index',
  table: tbl,
  name,
  attributes: { definition },
});
const constraint = (tbl: string, name: string, definition: string): CatalogEntry => ({
  kind: 'constraint',
  table: tbl,
  name,
  attributes: { definition },
});

/** users(id pk, name, email) as most shards have it. */
const base = (): Catalog => [
  table('users'),
  column('users', 'id', 'integer', { default: "nextval('users_id_seq'::regclass)" }),
  column('users', 'name', 'character varying(255)'),
  column('users', 'email', 'character varying(255)', { nullable: 'null' }),
  constraint('users', 'users_pkey', 'PRIMARY KEY (id)'),
];

describe('compareCatalogs', () => {
  it('identical shards: no differences, one fingerprint whatever the order', () => {
    const catalogs = { s0: base(), s1: base().reverse(), s2: base() };
    expect(compareCatalogs(catalogs)).toEqual({ s0: [], s1: [], s2: [] });
    expect(new Set(Object.values(catalogs).map(catalogFingerprint)).size).toBe(1);
  });

  it('names an extra index on one shard (and only there)', () => {
    const s1 = [...base(), index('users', 'users_name_idx', 'CREATE INDEX users_name_idx ON users USING btree (name)')];
    const differences = compareCatalogs({ s0: base(), s1, s2: base() });
    expect(differences).toEqual({ s0: [], s1: ['extra index "users_name_idx" on users (name)'], s2: [] });
    expect(catalogFingerprint(s1)).not.toBe(catalogFingerprint(base()));
  });

  it('names a changed default, type and nullability with what the others have', () => {
    const s2 = base().map((entry) =>
      entry.name === 'email' ? column('users', 'email', 'text', { default: "'x'::text" }) : entry,
    );
    expect(compareCatalogs({ s0: base(), s1: base(), s2 }).s2).toEqual([
      "column users.email default 'x'::text (others: none)",
      'column users.email not null (others: null)',
      'column users.email type text (others: type character varying(255))',
    ]);
  });

  it('a column added by hand is extra; one dropped by hand is missing', () => {
    const s0 = [...base(), column('users', 'age', 'integer', { nullable: 'null' })];
    const s1 = base().filter((entry) => entry.name !== 'name');
    expect(compareCatalogs({ s0, s1, s2: base() })).toEqual({
      s0: ['extra column users.age integer'],
      s1: ['missing column users.name character varying(255) not null'],
      s2: [],
    });
  });

  it('an extra or missing table is named once, not with each of its parts', () => {
    const audit = [
      table('audit'),
      column('audit', 'id', 'integer'),
      constraint('audit', 'audit_pkey', 'PRIMARY KEY (id)'),
    ];
    const s0 = [...base(), ...audit];
    const s1: Catalog = [];
    const differences = compareCatalogs({ s0, s1, s2: base(), s3: base() });
    expect(differences.s0).toEqual(['extra table "audit"']);
    expect(differences.s1).toEqual(['missing table "users"']);
    expect(differences.s2).toEqual([]);
  });

  it('a changed constraint or index definition names the object and both definitions', () => {
    const idx = (def: string) => [...base(), index('users', 'users_name_idx', def)];
    const plain = 'CREATE INDEX users_name_idx ON users USING btree (name)';
    const differences = compareCatalogs({
      s0: idx(plain),
      s1: idx('CREATE UNIQUE INDEX users_name_idx ON users USING btree (lower((name)::text))'),
      s2: idx(plain).map((e) =>
        e.name === 'users_pkey' ? constraint('users', 'users_pkey', 'PRIMARY KEY (id, name)') : e,
      ),
    });
    expect(differences).toEqual({
      s0: [],
      s1: ['index "users_name_idx" on users unique (lower((name)::text)) (others: (name))'],
      s2: ['constraint "users_pkey" on users PRIMARY KEY (id, name) (others: PRIMARY KEY (id))'],
    });
  });

  it('two shards that disagree: the one that has more is named (extra), a value tie names both', () => {
    const s1 = [...base(), index('users', 'users_name_idx', 'CREATE INDEX users_name_idx ON users USING hash (name)')];
    expect(compareCatalogs({ s0: base(), s1 })).toEqual({
      s0: [],
      s1: ['extra index "users_name_idx" on users using hash (name)'],
    });
    const other = base().map((e) => (e.name === 'name' ? column('users', 'name', 'text') : e));
    expect(compareCatalogs({ s0: base(), s1: other })).toEqual({
      s0: ['column users.name type character varying(255) (others: type text)'],
      s1: ['column users.name type text (others: type character varying(255))'],
    });
  });

  it('one shard has nothing to differ from', () => {
    expect(compareCatalogs({ s0: base() })).toEqual({ s0: [] });
  });
});

describe('catalogFromRows', () => {
  const row = (over: Record<string, unknown>) => ({
    kind: 'column' as const,
    schema: 'public',
    qschema: 'public',
    table: 'users',
    name: 'x',
    type: null,
    not_null: null,
    default: null,
    identity: null,
    generated: null,
    definition: null,
    ...over,
  });

  it('drops the default schema from names and from index definitions, keeps others, sorts', () => {
    const catalog = catalogFromRows(
      [
        row({
          kind: 'index',
          name: 'users_name_idx',
          definition: 'CREATE INDEX users_name_idx ON public.users USING btree (name)',
        }),
        row({
          kind: 'index',
          schema: 'My S',
          qschema: '"My S"',
          name: 'i',
          definition: 'CREATE INDEX i ON "My S".t USING btree (a)',
          table: 't',
        }),
        row({ name: 'id', type: 'integer', not_null: true, identity: 'a', default: null }),
        row({ name: 'full', type: 'text', not_null: false, generated: 's', default: '(first || last)' }),
      ],
      'public',
    );
    expect(catalog).toEqual([
      {
        kind: 'column',
        table: 'users',
        name: 'full',
        attributes: { type: 'text', nullable: 'null', default: 'none', generated: '(first || last)' },
      },
      {
        kind: 'column',
        table: 'users',
        name: 'id',
        attributes: { type: 'integer', nullable: 'not null', default: 'none', identity: 'always' },
      },
      { kind: 'index', table: 'My S.t', name: 'i', attributes: { definition: 'CREATE INDEX i ON t USING btree (a)' } },
      {
        kind: 'index',
        table: 'users',
        name: 'users_name_idx',
        attributes: { definition: 'CREATE INDEX users_name_idx ON users USING btree (name)' },
      },
    ]);
  });
});
