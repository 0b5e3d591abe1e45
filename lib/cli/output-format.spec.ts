import {
  formatDrift,
  formatNames,
  formatResults,
  formatStatus,
  names,
  redact,
  renderTable,
  secretsOf,
} from './output-format.js';

const addresses = new Map([
  ['s0/primary', 'postgresql://app@db0:5432/app'],
  ['s1/primary', 'postgresql://app@db1:5432/app'],
]);

describe('output formatting', () => {
  it('aligns plain columns under a rule', () => {
    expect(
      renderTable(
        ['shard', 'status'],
        [
          ['s0', 'done'],
          ['s10', 'FAILED'],
        ],
      ),
    ).toBe(['shard  status', '-----  ------', 's0     done', 's10    FAILED'].join('\n'));
  });

  it('shortens long lists of names', () => {
    expect(names([])).toBe('-');
    expect(names(['a', 'b'])).toBe('a, b');
    expect(names(['a', 'b', 'c', 'd'])).toBe('a, b (+2)');
  });

  it('shows each shard of a run, its address and, for a failed shard, the message', () => {
    const text = formatResults(
      [
        { shard: 's0', node: 's0/primary', applied: ['M1', 'M2'] },
        { shard: 's1', node: 's1/primary', applied: [], failed: { migration: 'M1', message: 'relation "t" exists' } },
        { shard: 's2', node: '-', applied: [], skipped: true },
      ],
      addresses,
      'applied',
    );
    const [header, , s0, s1, s2] = text.split('\n');
    expect(header.split(/\s{2,}/)).toEqual(['shard', 'node', 'address', 'applied', 'status']);
    expect(s0.split(/\s{2,}/)).toEqual(['s0', 's0/primary', 'postgresql://app@db0:5432/app', 'M1, M2', 'done']);
    expect(s1.split(/\s{2,}/)).toEqual(['s1', 's1/primary', 'postgresql://app@db1:5432/app', '-', 'FAILED at M1']);
    expect(s2.split(/\s{2,}/)).toEqual(['s2', '-', '-', '-', 'skipped (canary failed)']);
    expect(text).toContain('s1 (s1/primary): relation "t" exists');
  });

  it('shows executed and pending migrations per shard', () => {
    const statuses = [
      { shard: 's0', node: 's0/primary', executed: ['M1', 'M2'], pending: [] },
      { shard: 's1', node: 's1/primary', executed: ['M1'], pending: ['M2'] },
    ];
    const table = formatStatus(statuses, addresses).split('\n');
    expect(table[2].split(/\s{2,}/)).toEqual([
      's0',
      's0/primary',
      'postgresql://app@db0:5432/app',
      '2',
      'M2',
      '-',
      'up to date',
    ]);
    expect(table[3].split(/\s{2,}/)).toEqual([
      's1',
      's1/primary',
      'postgresql://app@db1:5432/app',
      '1',
      'M1',
      'M2',
      '1 pending',
    ]);
    expect(formatNames(statuses, 'pending')).toBe(
      's0 (s0/primary):\n  (no pending migrations)\ns1 (s1/primary):\n  M2',
    );
  });

  it('names each drifted shard with what differs', () => {
    const shard = { pending: [], unknownExecuted: [], schemaDiff: [], fingerprint: 'f', catalogDifferences: [] };
    const text = formatDrift(
      {
        ok: false,
        shards: [
          { ...shard, shard: 's0', node: 's0/primary' },
          {
            ...shard,
            shard: 's1',
            node: 's1/primary',
            schemaDiff: ['alter table "user" drop column "extra";'],
            catalogDifferences: ['column user.extra (text) only here'],
          },
        ],
      },
      addresses,
    );
    const rows = text.split('\n');
    expect(rows[2]).toMatch(/^s0 .* ok$/);
    expect(rows[3]).toMatch(/^s1 .*1 statement\(s\)\s+1 difference\(s\)\s+DRIFT$/);
    expect(text).toContain('s1 (s1/primary) drifted:');
    expect(text).toContain('    alter table "user" drop column "extra";');
    expect(text).toContain('    column user.extra (text) only here');
    expect(text).toContain('Drift on 1 shard(s): s1.');
    expect(formatDrift({ ok: true, shards: [{ ...shard, shard: 's0', node: 's0/primary' }] }, addresses)).toContain(
      'No drift',
    );
  });

  it('keeps passwords out: URL passwords and every configured one', () => {
    const secrets = secretsOf({
      s0: { primary: { clientUrl: 'postgresql://app:p%40ss@db0/app' }, replicas: [{ host: 'h', password: 'hunter2' }] },
      s1: { primary: { clientUrl: 'not a url' } },
    });
    expect(secrets.sort()).toEqual(['hunter2', 'p%40ss', 'p@ss']);
    expect(redact('connect postgresql://app:p%40ss@db0:5432/app failed', secrets)).toBe(
      'connect postgresql://app@db0:5432/app failed',
    );
    expect(redact('password authentication failed: hunter2 p@ss', secrets)).toBe(
      'password authentication failed: *** ***',
    );
  });
});
