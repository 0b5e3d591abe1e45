import { createHmac } from 'node:crypto';
import { InvalidCursorError } from '../errors/invalid-cursor.error.js';
import { CursorCodec, queryFingerprint } from './cursor-codec.js';
import type { SortTerm } from './sort-key.js';

const SECRET = 'a-secret-of-enough-length';
const term = (property: string, columnType: string, nullable = false): SortTerm => ({
  property,
  columnType,
  nullable,
  descending: false,
  nullsFirst: false,
  kind: 'other',
});
const TERMS = [
  term('createdAt', 'timestamptz'),
  term('big', 'bigint'),
  term('label', 'varchar(255)', true),
  term('rank', 'int'),
  term('bigAsBigint', 'int8'),
  term('active', 'boolean'),
];

/** What an attacker who knew the secret could sign: the codec must still refuse wrong values. */
function forge(fingerprint: string, k: unknown[]): string {
  const body = Buffer.from(JSON.stringify({ v: 1, f: fingerprint, k })).toString('base64url');
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url').slice(0, 22)}`;
}

describe('CursorCodec', () => {
  const codec = new CursorCodec(SECRET);
  const fingerprint = queryFingerprint(['User', [['createdAt', true, true]], { active: true }]);
  const values = [new Date('2026-01-02T03:04:05.678Z'), '12345678901234567890'.slice(0, 19), null, 7, 10n, false];

  it('round-trips the sort values with their types', () => {
    const cursor = codec.encode(fingerprint, values);
    expect(cursor).toMatch(/^[\w-]+\.[\w-]+$/);
    expect(codec.decode(cursor, fingerprint, TERMS, 'test')).toEqual(values);
  });

  it('refuses a tampered cursor, a foreign one, another secret and garbage', () => {
    const cursor = codec.encode(fingerprint, values);
    const [body, mac] = cursor.split('.');
    const edited = Buffer.from(Buffer.from(body, 'base64url').toString().replace('"k":[', '"k":[1,')).toString(
      'base64url',
    );
    expect(() => codec.decode(`${edited}.${mac}`, fingerprint, TERMS, 'find')).toThrow(/signature/);
    const other = queryFingerprint(['User', [['createdAt', false, false]], { active: true }]);
    expect(() => codec.decode(cursor, other, TERMS, 'find')).toThrow(/another query/);
    expect(() => new CursorCodec('another-secret-here!').decode(cursor, fingerprint, TERMS, 'find')).toThrow(
      InvalidCursorError,
    );
    expect(() => codec.decode('not a cursor', fingerprint, TERMS, 'find')).toThrow(/not a cursor/);
    expect(() => codec.decode(42, fingerprint, TERMS, 'find')).toThrow(InvalidCursorError);
  });

  it('a signed cursor holding values its columns cannot take is an InvalidCursorError, whatever they are', () => {
    const good = [{ d: '2026-01-02T03:04:05.678Z' }, '1', null, 7, { b: '10' }, false];
    expect(codec.decode(forge(fingerprint, good), fingerprint, TERMS, 'find')).toHaveLength(6);
    const bad: [number, unknown][] = [
      [0, { d: 'garbage' }],
      [0, '2026-01-02 03:04:05.678+00; drop table x'],
      [0, 'yesterday'],
      [0, '9999-99-99'],
      [0, '2020-02-30 00:00:00+00'],
      [0, '2026-01-02 24:00:00+00'],
      [0, '2026-01-02 03:04:05+99:99'],
      [0, '2026-01-02 03:04:05-16:00'],
      [0, '0000-01-01 00:00:00+00'],
      [0, '294277-01-01 00:00:00+00'],
      [0, '4714-11-23 00:00:00 BC'],
      [0, '23:59:59'],
      [0, { d: '0000-01-01T00:00:00Z' }],
      [0, { d: '2026-13-45T99:99:99Z' }],
      [1, 'xyz'],
      [1, '99999999999999999999'],
      [1, { b: '1e5' }],
      [1, 1.5],
      [2, 123],
      [2, 'a\u0000b'],
      [2, '\uD800'],
      [2, 'x'.repeat(10_001)],
      [3, 2 ** 31],
      [3, '99999999999'],
      [3, 1e308],
      [4, { b: 'garbage' }],
      [4, { d: '2026-01-02T03:04:05Z' }],
      [5, 'false'],
      [0, null], // not nullable
      [3, { __proto__: { d: 'x' } }],
    ];
    for (const [index, value] of bad) {
      const k: unknown[] = [...good];
      k[index] = value;
      expect(() => codec.decode(forge(fingerprint, k), fingerprint, TERMS, 'find')).toThrow(InvalidCursorError);
    }
    for (const payload of ['[]', 'null', '"x"', '{"f":1}', '{']) {
      const body = Buffer.from(payload).toString('base64url');
      const cursor = `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url').slice(0, 22)}`;
      expect(() => codec.decode(cursor, fingerprint, TERMS, 'find')).toThrow(InvalidCursorError);
    }
  });

  it('takes the values as rows read over plain SQL carry them (PostgreSQL text for times, numbers as text)', () => {
    const plainSql = ['2026-01-02 03:04:05.678+00', '1', null, '7', '10', true];
    expect(codec.decode(forge(fingerprint, plainSql), fingerprint, TERMS, 'find')).toEqual(plainSql);
    for (const stamp of [
      '2024-02-29 23:59:59.999999+05:30',
      '2026-01-02T03:04:05Z',
      'infinity',
      '0001-01-01 00:00:00-15:59',
    ]) {
      const k = [stamp, ...plainSql.slice(1)];
      expect(codec.decode(forge(fingerprint, k), fingerprint, TERMS, 'find')[0]).toBe(stamp);
    }
  });

  it('fingerprints filters by content, not key order', () => {
    expect(queryFingerprint([{ a: 1, b: { c: 2, d: 3 } }])).toBe(queryFingerprint([{ b: { d: 3, c: 2 }, a: 1 }]));
    expect(queryFingerprint([{ a: 1 }])).not.toBe(queryFingerprint([{ a: 2 }]));
  });
});
