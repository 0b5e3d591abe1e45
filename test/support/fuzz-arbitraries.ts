import { createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { FUZZ_METHODS, FuzzRequest, type FuzzBody, type FuzzMethod } from './fuzz-http.js';

/**
 * Generators of hostile HTTP requests for the sample app. Every string a generator makes goes
 * through `defang`, so it never holds a word the leak checks look for (fuzz-checks.ts): an answer
 * that echoes the client's own input cannot be taken for a leak.
 */

/** What the fuzz knows of the running app: real ids, cursors and tokens to send back, intact or tampered. */
export interface FuzzWorld {
  shardNames: readonly string[];
  /** Users that exist (on every shard). */
  userIds: readonly string[];
  /** Orders that exist: valid-looking ids of another entity. */
  orderIds: readonly string[];
  /** Real `nextCursor`s of `GET /users?first=2&orderBy=…&order=…`. */
  cursors: readonly RealCursor[];
  /** Real `x-shard-consistency` tokens from responses. */
  tokens: readonly string[];
  /** The key the app signs cursors with, when the test could read it: forged cursors then pass the signature check. */
  cursorSecret?: string;
}

export interface RealCursor {
  orderBy: string;
  order: string;
  cursor: string;
}

export const USER_SORTS = ['id', 'createdAt', 'email', 'name'] as const;

// ---------------------------------------------------------------- strings

const DEFANGED = /select|insert|update|delete|from|syntax|postgres|violates|type|aborted|sequence/gi;

/** Breaks every word the leak checks look for (`select` → `s_elect`) and runs of 4+ spaces (stack indentation). */
export function defang(text: string): string {
  return text.replace(DEFANGED, (word) => `${word[0]}_${word.slice(1)}`).replace(/ {4,}/g, '   ');
}

const SPECIAL_CHARS = [
  '\u0000',
  '\uD800',
  '\uDBFF',
  '\uDC00',
  '\uDFFF',
  '\uFFFE',
  '\uFFFF',
  '\u202E',
  '\u200B',
  '\uFEFF',
  '\u0085',
  '\u2028',
  '\u001B',
  '"',
  "'",
  '\\',
  '`',
  '%',
  '/',
  '?',
  '#',
  '&',
  '=',
  '+',
  '.',
  ' ',
  '\t',
  '\n',
  '\r',
  'é',
  'ß',
  '😀',
  '𝕏',
  '中',
  '١',
  '１',
  '$',
  '{',
  '}',
  '[',
  ']',
  '<',
  '>',
  ';',
  '*',
  ':',
  '@',
  ',',
];

const hostileChar = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_CHARS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.constantFrom(...'abcxyzAZ0189-_') },
);

const WORDS = [
  '',
  ' ',
  'null',
  'undefined',
  'NaN',
  '-Infinity',
  'true',
  '[object Object]',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  "' OR '1'='1",
  '1; DROP TABLE users; --',
  '$1',
  '%s%s%n',
  '${7*7}',
  '{{7*7}}',
  '../../../etc/passwd',
  '..',
  '.',
  'connection terminated',
  'Connection terminated unexpectedly',
  '\u0000',
  '\uD800',
  '\uDFFF\uD800',
  'a\u0000b',
  '\\u0000',
  '\\ud800',
  'c1.',
  'ＡＢＣ',
  'ǅ',
  '😀😀😀',
  'ada@example.com',
  'x'.repeat(255),
  'x'.repeat(256),
  'é'.repeat(200),
  '😀'.repeat(200),
  '\uD800'.repeat(300),
];

/** Long strings: around the 255-character column limit and far past it. */
const longText = fc
  .tuple(fc.constantFrom('a', 'é', '😀', '\u0000', '\uD800', ' x', '中'), fc.integer({ min: 120, max: 5_000 }))
  .map(([unit, times]) => unit.repeat(times));

/** Any string, NUL bytes and lone surrogates included. */
export const hostileString: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 4, arbitrary: fc.string({ unit: hostileChar, maxLength: 40 }) },
    { weight: 3, arbitrary: fc.constantFrom(...WORDS) },
    { weight: 1, arbitrary: longText },
  )
  .map(defang);

/** Text a real client might send: any printable Unicode, quotes, bidi marks, at and past the column length. */
export const plausibleText: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'Ada',
        'ada@example.com',
        "O'Brien",
        'Robert"); DROP TABLE users;--',
        ' leading',
        'trailing ',
        'tab\tname',
        'new\nline',
        '\u202Eevil',
        '\u200B',
        '\uFEFFbom',
        'ǅ',
        'x'.repeat(255),
        'é'.repeat(255),
        '😀'.repeat(255),
        '中'.repeat(255),
        'x'.repeat(256),
        '😀'.repeat(256),
      ),
    },
  )
  .map(defang);

/** Header values Node's client can send: tab, printable ASCII and latin-1 (NUL and CR/LF it refuses). */
const latin1Text = fc
  .string({
    unit: fc.oneof(
      fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
      fc.constant('\t'),
    ),
    maxLength: 60,
  })
  .map(defang);

// ---------------------------------------------------------------- URL encoding

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** Percent-encodes UTF-8, and a lone surrogate as its WTF-8 bytes (what encodeURIComponent refuses): invalid UTF-8 on the wire. */
export function percentEncode(text: string, keep: (ch: string) => boolean = (ch) => UNRESERVED.test(ch)): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    let codePoint = unit;
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        codePoint = (unit - 0xd800) * 0x400 + (next - 0xdc00) + 0x10000;
        i++;
      }
    }
    if (codePoint < 0x80 && keep(String.fromCharCode(codePoint))) out += String.fromCharCode(codePoint);
    else for (const byte of wtf8(codePoint)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function wtf8(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 63)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
}

/** Printable ASCII Node sends unescaped, less what would end the part it is in. */
const rawKeeper =
  (reserved: string) =>
  (ch: string): boolean =>
    ch > ' ' && ch < '\x7f' && !reserved.includes(ch);

const BROKEN_PERCENT = ['%', '%2', '%zz', '%00', '%C0%AF', '%ED%A0%80', '%FF', '%E0%A4', '%25', '%2F', '%2e%2e', '%5C'];

/** A string as a client might put it in a URL part: properly encoded, half raw, or with broken escapes. */
function urlPart(text: fc.Arbitrary<string>, reserved: string): fc.Arbitrary<string> {
  return fc
    .tuple(text, fc.constantFrom('encoded', 'encoded', 'raw', 'raw', 'broken'), fc.constantFrom(...BROKEN_PERCENT))
    .map(([value, mode, broken]) =>
      mode === 'encoded'
        ? percentEncode(value)
        : mode === 'raw'
          ? percentEncode(value, rawKeeper(reserved))
          : percentEncode(value) + broken,
    );
}

// ---------------------------------------------------------------- ids, numbers, paths

const ID_EDGES = [
  '0',
  '1',
  '9223372036854775807',
  '9223372036854775808',
  '18446744073709551615',
  '18446744073709551616',
  '99999999999999999999',
  '00000000000000000001',
  '-1',
  '-9223372036854775808',
  '1e3',
  '0x1F',
  '1.5',
  ' 1',
  '1 ',
  '+1',
  '１２３',
  '١٢٣',
  'abc',
  'null',
  'me',
];

/** Text for an id: existing users and orders, valid-looking 64-bit ids, 20+ digits, negatives, non-numbers. */
export function idText(world: FuzzWorld): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...world.userIds) },
    { weight: 1, arbitrary: fc.constantFrom(...world.orderIds) },
    { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String) },
    { weight: 2, arbitrary: fc.constantFrom(...ID_EDGES) },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 21, maxLength: 400 }) },
    { weight: 1, arbitrary: hostileString },
  );
}

const idSegment = (world: FuzzWorld) => urlPart(idText(world), '/?#%');

/** Numbers as query text: in range, at the bounds, huge, negative, fractional, exotic digits. */
export const numberText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.oneof(fc.integer({ min: 0, max: 101 }), fc.integer({ min: 99_990, max: 1_000_000 })).map(String),
  },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '0',
      '1',
      '2',
      '20',
      '100',
      '101',
      '99999',
      '100000',
      '100001',
      '1000000000',
      '1e308',
      '1e3',
      '9007199254740993',
      '99999999999999999999999',
      '-1',
      '-0',
      '1.5',
      '0.5',
      '0x10',
      '0b1',
      ' 1',
      '1 ',
      '+1',
      '',
      'NaN',
      'Infinity',
      '١',
      '１',
      '1_000',
      '00001',
    ),
  },
  { weight: 2, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double().map(String) },
  { weight: 1, arbitrary: fc.bigInt().map(String) },
  { weight: 1, arbitrary: hostileString },
);

const ROUTE_WORDS = ['users', 'orders', 'stats', 'health', 'topology', '..', '.', '', 'USERS', 'users.json', '*'];

/** Paths of the app's routes with any id, and paths next to them. */
export function pathArb(world: FuzzWorld): fc.Arbitrary<string> {
  const id = idSegment(world);
  const routes = fc.oneof(
    fc.constantFrom('/users', '/stats', '/health', '/topology'),
    id.map((x) => `/users/${x}`),
    id.map((x) => `/users/${x}/orders`),
  );
  const segments = fc
    .array(
      fc.oneof(fc.constantFrom(...ROUTE_WORDS), id, urlPart(hostileString, '/?#%'), fc.constantFrom(...BROKEN_PERCENT)),
      { minLength: 1, maxLength: 5 },
    )
    .map((parts) => `/${parts.join('/')}`);
  const oddities = fc.constantFrom(
    '/',
    '//users',
    '/users/',
    '/users//orders',
    '/users/./',
    '/users/%2e%2e/stats',
    '/./stats',
    '/users/..%2Fstats',
    '/%2Fusers',
    '/users;x=1',
    '/health/',
    '/topology/x',
    '/users/1/orders/1',
    '/users/1/orders/',
    '/users/%00',
    '/users/%ED%A0%80',
    '/users/%ED%A0%80/orders',
  );
  return fc.oneof(
    { weight: 6, arbitrary: routes },
    { weight: 2, arbitrary: segments },
    { weight: 1, arbitrary: oddities },
  );
}

// ---------------------------------------------------------------- cursors and tokens

const base64url = (text: string | Buffer) => Buffer.from(text).toString('base64url');

/** A cursor's body (`base64url(JSON)`) signed the way the library signs cursors. */
export function signCursor(secret: string, body: string): string {
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url').slice(0, 22)}`;
}

/** The decoded payload of a real cursor (`{ v, f, k }`), or undefined when its format is not that. */
export function cursorPayload(cursor: string): { v?: unknown; f?: unknown; k?: unknown } | undefined {
  try {
    const payload: unknown = JSON.parse(Buffer.from(cursor.split('.')[0], 'base64url').toString('utf8'));
    return typeof payload === 'object' && payload !== null ? payload : undefined;
  } catch {
    return undefined;
  }
}

/** One character replaced by another base64url character (never by itself). */
function flipped(text: string, at: number, by: string): string {
  const i = at % Math.max(1, text.length);
  const replacement = text[i] === by ? (by === 'A' ? 'B' : 'A') : by;
  return text.slice(0, i) + replacement + text.slice(i + 1);
}

const B64_CHAR = fc.constantFrom(...'ABCxyz0189-_');

/** JSON-ish values, small. */
const jsonish: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 3 }),
  ),
})).value;

/** Text PostgreSQL may read as a date, time or timestamp, much of it outside what it accepts. */
const TIME_TEXT = [
  '9999-99-99',
  '2020-02-30',
  '2021-02-29',
  '2020-01-01 25:00:00',
  '2020-01-01 24:00:00',
  '0000-01-01',
  '999999-01-01',
  '294277-01-01',
  '2020-01-01T00:00:00+99:99',
  '1970-01-01 00:00:00+15:59',
  '1970-01-01 00:00:00-16:00',
  '2020-01-01 00:00:00 BC',
  '4714-11-23 00:00:00 BC',
  '-infinity',
  'infinity',
  '99:99:99',
  '24:00:00',
  '23:59:60',
  '2020-01-01T00:00:00.1234567Z',
  'epoch',
  'now',
  'allballs',
];

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Date, time and timestamp text, as such and tagged as a cursor date (`{ d }`): known edges and any field values. */
const timeLike: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TIME_TEXT) },
  { weight: 1, arbitrary: fc.constantFrom(...TIME_TEXT).map((d) => ({ d })) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        year: fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 999_999 })),
        month: fc.integer({ min: 0, max: 13 }),
        day: fc.integer({ min: 0, max: 32 }),
        hour: fc.integer({ min: 0, max: 25 }),
        minute: fc.integer({ min: 0, max: 61 }),
        zone: fc.constantFrom('', 'Z', '+00', '+99:99', '-16:00', '+15:59', ' BC'),
        form: fc.constantFrom('text', 'text', 'iso', 'tagged'),
      })
      .map(({ year, month, day, hour, minute, zone, form }) => {
        const date = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
        const time = `${pad(hour, 2)}:${pad(minute, 2)}:00`;
        if (form === 'tagged') return { d: `${date}T${time}.000Z` };
        return form === 'iso' ? `${date}T${time}${zone}` : `${date} ${time}${zone}`;
      }),
  },
);

/** Values a forged cursor may hold for a sort column: typed wrappers with wrong contents, wrong types, hostile text. */
const hostileSortValue: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom<unknown>(
      { d: 'garbage' },
      { d: '' },
      { d: 123 },
      { d: null },
      { d: '9999-99-99' },
      { d: '+275760-09-13T00:00:00.001Z' },
      { d: '2020-01-01T00:00:00.000Z' },
      { b: 'xyz' },
      { b: '1.5' },
      { b: '' },
      { b: '-1' },
      { b: '99999999999999999999999999999' },
      { b: 12 },
      { n: 'abc' },
      { n: 'Infinity' },
      { n: 'NaN' },
      {},
      { x: 1 },
      { d: 'x', b: '1' },
      [],
      [1],
      'connection terminated',
      'Connection terminated unexpectedly',
      '',
      1e308,
      -1,
      0,
      2 ** 63,
      true,
      false,
      null,
      '9223372036854775808',
      '2020-01-01T00:00:00Z',
      '\u0000',
      '\uD800',
      { b: '9223372036854775807' },
      { b: '-9223372036854775808' },
      '-9223372036854775808',
      '9223372036854775807',
      9007199254740991,
      -9007199254740991,
    ),
  },
  { weight: 3, arbitrary: timeLike },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: plausibleText },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => ({ d: d.toISOString() })) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map((b) => ({ b: String(b) })) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: jsonish },
);

type CursorPayload = { v?: unknown; f?: unknown; k?: unknown };

/** Values for a bigint column (the id every sort ends on): at and past the int8 range, as text, number or `{ b }`. */
const bigintLike: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    '9223372036854775807',
    '-9223372036854775808',
    '9223372036854775808',
    '9999999999999999999',
    '-0',
    '00',
    '1e3',
    ' 1',
    { b: '9223372036854775807' },
    { b: '-9223372036854775809' },
    { b: '9999999999999999999' },
    2 ** 53, // the first integer past Number.MAX_SAFE_INTEGER
    -1,
    1.5,
  ),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map((b) => ({ b: String(b) })),
);

/** Values for a text column: any string, up to and past the 10,000 characters a cursor may hold. */
const textLike: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  plausibleText,
  fc.integer({ min: 9_990, max: 10_010 }).map((n) => 'x'.repeat(n)),
);

/**
 * One forged sort value: mostly one of the right kind for the column it replaces (a time for
 * `createdAt`, a bigint for `id` and the tie-breaking id, text for `email` and `name`), else anything.
 */
const sortValueFor: fc.Arbitrary<(orderBy: string, slot: number) => unknown> = fc
  .record({
    typed: fc.constantFrom(true, true, false),
    time: timeLike,
    id: bigintLike,
    text: textLike,
    any: hostileSortValue,
  })
  .map((v) => (orderBy: string, slot: number) => {
    if (!v.typed) return v.any;
    if (slot > 0 || orderBy === 'id') return v.id;
    return orderBy === 'createdAt' ? v.time : v.text;
  });

type PayloadEdit = (payload: CursorPayload, orderBy: string) => string;

/**
 * A forged cursor payload (JSON text) made from a real one: its query fingerprint kept or not, its sort
 * values replaced. A function of the real payload rather than a chained arbitrary, so that it shrinks.
 */
const payloadEdit: fc.Arbitrary<PayloadEdit> = fc.oneof(
  {
    // one value replaced (mostly the first, the sort column's own)
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat() }),
        sortValueFor,
        fc.constantFrom<unknown>(undefined, undefined, 1, 2, null, 'x'),
      )
      .map(([at, value, v]) => (p: CursorPayload, orderBy: string) => {
        const k = Array.isArray(p.k) ? [...(p.k as unknown[])] : [];
        if (k.length) k[at % k.length] = value(orderBy, at % k.length);
        return JSON.stringify({ ...p, ...(v !== undefined && { v }), k });
      }),
  },
  {
    // every value replaced, as many as the query sorts on
    weight: 2,
    arbitrary: fc
      .array(sortValueFor, { minLength: 1, maxLength: 3 })
      .map((values) => (p: CursorPayload, orderBy: string) => {
        const arity = Array.isArray(p.k) ? p.k.length : 1;
        return JSON.stringify({
          ...p,
          k: Array.from({ length: arity }, (_, i) => values[i % values.length](orderBy, i)),
        });
      }),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(fc.array(hostileSortValue, { maxLength: 4 }), hostileSortValue)
      .map((k) => (p: CursorPayload) => JSON.stringify({ ...p, k })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(hostileString, fc.array(hostileSortValue, { maxLength: 3 })).map(
      ([f, k]) =>
        (p: CursorPayload) =>
          JSON.stringify({ ...p, f, k }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(fc.constantFrom('null', '1', '"x"', '[]', 'true', '{}', '{"f":null,"k":null}', '{"k":[]}'), hostileString)
      .map((text) => () => text),
  },
);

/** How a client may change a real cursor before sending it back. */
type CursorEdit = (real: RealCursor) => string;

/**
 * `after` values: real cursors intact or tampered, re-encoded with the old signature, forged and
 * signed with the app's key (when the test could read it), random text.
 */
export function cursorEdit(world: FuzzWorld): fc.Arbitrary<CursorEdit> {
  const payloadOf = (r: RealCursor) => cursorPayload(r.cursor) ?? {};
  const macOf = (r: RealCursor) => r.cursor.split('.')[1] ?? '';
  const tampered = fc.oneof(
    fc.constant((r: RealCursor) => r.cursor),
    fc.tuple(fc.nat(), B64_CHAR).map(
      ([at, by]) =>
        (r: RealCursor) =>
          flipped(r.cursor, at, by),
    ),
    fc.nat().map((at) => (r: RealCursor) => r.cursor.slice(0, at % r.cursor.length)),
    payloadEdit.map((edit) => (r: RealCursor) => `${base64url(edit(payloadOf(r), r.orderBy))}.${macOf(r)}`),
    fc.constant((r: RealCursor) => `${r.cursor}.${r.cursor}`),
    fc.constant((r: RealCursor) => r.cursor.replace('.', '..')),
  );
  const secret = world.cursorSecret;
  const forged =
    secret === undefined
      ? tampered
      : payloadEdit.map((edit) => (r: RealCursor) => signCursor(secret, base64url(edit(payloadOf(r), r.orderBy))));
  const random = fc.oneof(
    hostileString,
    fc
      .tuple(fc.string({ unit: B64_CHAR, maxLength: 80 }), fc.string({ unit: B64_CHAR, maxLength: 30 }))
      .map(([a, b]) => `${a}.${b}`),
    jsonish.map((value) => `${base64url(JSON.stringify(value) ?? '')}.${'A'.repeat(22)}`),
  );
  return fc.oneof(
    { weight: 2, arbitrary: tampered },
    { weight: 6, arbitrary: forged },
    { weight: 1, arbitrary: random.map((text) => () => text) },
  );
}

/** `after` values made from any of the real cursors (see `cursorEdit`). */
export function cursorText(world: FuzzWorld): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...world.cursors), cursorEdit(world)).map(([real, edit]) => edit(real));
}

/** WAL positions as a token may carry them: real-looking, at the limits, malformed, not text. */
const lsnValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    '0/0',
    '0/3000148',
    'FFFFFFFF/FFFFFFFF',
    'ffffffff/ffffffff',
    '100000000/0',
    '0/100000000',
    '-1/0',
    '0/-1',
    '1/',
    '/1',
    'x/y',
    ' 0/1',
    '0/1 ',
    '0x1/0x1',
    '١/١',
    '0/0/0',
    '',
    '0',
    null,
    true,
    1,
    [],
    {},
  ),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a.toString(16).toUpperCase()}/${b.toString(16).toUpperCase()}`),
  hostileString,
);

/** `{...}` JSON text written entry by entry, so that `__proto__` stays an own key on the wire. */
function objectText(entries: readonly (readonly [string, unknown])[]): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}`).join(',')}}`;
}

/** `x-shard-consistency` values: real tokens intact or tampered, forged `c1.` tokens, garbage, over-long. */
export function tokenText(world: FuzzWorld): fc.Arbitrary<string> {
  const shardKey = fc.oneof(
    fc.constantFrom(...world.shardNames, 's9', 'S0', '__proto__', 'constructor', ''),
    hostileString,
  );
  const forgedJson = fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.tuple(shardKey, lsnValue), { maxLength: 4 }).map(objectText) },
    { weight: 1, arbitrary: jsonish.map((value) => JSON.stringify(value) ?? '') },
    { weight: 1, arbitrary: fc.constantFrom('null', '[]', '"0/0"', '1', '{', '') },
  );
  const real = fc.constantFrom(...world.tokens);
  return fc.oneof(
    { weight: 2, arbitrary: real },
    {
      weight: 2,
      arbitrary: fc.tuple(real, fc.nat(), B64_CHAR).map(([t, at, by]) => `c1.${flipped(t.slice(3), at, by)}`),
    },
    { weight: 5, arbitrary: forgedJson.map((json) => `c1.${base64url(json)}`) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom('c1.', 'c2.', 'C1.', 'c1', ''), latin1Text).map(([p, t]) => p + t),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 4_000, max: 9_000 }).map(
        (n) =>
          `c1.${base64url(
            objectText([
              ['s0', '0/0'],
              ['pad', 'x'.repeat(n)],
            ]),
          )}`,
      ),
    },
  );
}

/** The header once, or repeated (Node joins repeated values with ", "). */
export function tokenHeader(world: FuzzWorld): fc.Arbitrary<readonly [string, string | readonly string[]]> {
  return fc
    .oneof(
      { weight: 3, arbitrary: tokenText(world) },
      { weight: 1, arbitrary: fc.array(tokenText(world), { minLength: 2, maxLength: 3 }) },
    )
    .map((value) => ['x-shard-consistency', value] as const);
}

const otherHeader: fc.Arbitrary<readonly [string, string]> = fc.tuple(
  fc.constantFrom(
    'accept',
    'accept-encoding',
    'accept-language',
    'x-forwarded-for',
    'x-http-method-override',
    'origin',
    'range',
    'if-none-match',
    'expect',
  ),
  fc.oneof(latin1Text, fc.constantFrom('*/*', 'gzip, br', '100-continue', 'bytes=0-1', 'DELETE', '127.0.0.1, ::1')),
);

// ---------------------------------------------------------------- query strings

/** `key=value` pairs for `/users`: the paging parameters with hostile values, arrays, nested keys, unknown keys. */
export function queryText(world: FuzzWorld): fc.Arbitrary<string> {
  const value = (text: fc.Arbitrary<string>) => urlPart(text, '&=#%+');
  const sortName = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...USER_SORTS) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('password', 'created_at', '__proto__', 'constructor', 'toString', 'ID', ''),
    },
    { weight: 1, arbitrary: hostileString },
  );
  const direction = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('asc', 'desc') },
    { weight: 1, arbitrary: fc.constantFrom('ASC', 'DESC', 'asc ', '1', '-1', '') },
    { weight: 1, arbitrary: hostileString },
  );
  const pair = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom('limit', 'offset', 'first'), value(numberText)) },
    { weight: 2, arbitrary: fc.tuple(fc.constant('after'), value(cursorText(world))) },
    { weight: 2, arbitrary: fc.tuple(fc.constant('orderBy'), value(sortName)) },
    { weight: 2, arbitrary: fc.tuple(fc.constant('order'), value(direction)) },
    {
      weight: 1,
      arbitrary: fc.tuple(
        fc.constantFrom(
          'limit[]',
          'limit[a]',
          'limit[__proto__]',
          '__proto__',
          'constructor',
          'a[b][c]',
          'orderBy[]',
          'after[]',
          'first[0]',
        ),
        value(numberText),
      ),
    },
    { weight: 1, arbitrary: fc.tuple(value(hostileString), value(hostileString)) },
  );
  return fc
    .array(fc.tuple(pair, fc.boolean()), { maxLength: 6 })
    .map((pairs) => pairs.map(([[key, v], bare]) => (bare && v === '' ? key : `${key}=${v}`)).join('&'));
}

// ---------------------------------------------------------------- bodies

const numberValue: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    2 ** 31,
    2 ** 31 - 1,
    -(2 ** 31),
    -(2 ** 31) - 1,
    2 ** 53,
    2 ** 53 + 2,
    1e308,
    -1e308,
    0.5,
    -0,
    1e-7,
    0,
    1,
    1250,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 3, arbitrary: numberValue },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      true,
      false,
      null,
      [],
      {},
      { email: 'proto@example.com', name: 'Proto', totalCents: 1 },
      { $ne: null },
      { $gt: '' },
    ),
  },
  { weight: 1, arbitrary: jsonish },
);

const BODY_KEYS = [
  'email',
  'name',
  'totalCents',
  'id',
  'createdAt',
  'user',
  'orders',
  '__proto__',
  'constructor',
  'prototype',
];

const jsonObjectBody = fc
  .array(
    fc.tuple(
      fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...BODY_KEYS) }, { weight: 1, arbitrary: hostileString }),
      fieldValue,
    ),
    { maxLength: 5 },
  )
  .map(objectText);

/** Bodies that look right but hold hostile values: the ones that reach the database. */
const userText = fc.oneof({ weight: 3, arbitrary: plausibleText }, { weight: 1, arbitrary: hostileString });
const userBody = fc.tuple(userText, userText).map(([email, name]) =>
  objectText([
    ['email', email],
    ['name', name],
  ]),
);
const patchBody = fc.oneof(
  { weight: 2, arbitrary: userText.map((name) => objectText([['name', name]])) },
  { weight: 1, arbitrary: userText.map((email) => objectText([['email', email]])) },
  {
    weight: 1,
    arbitrary: fc.tuple(fieldValue, fieldValue).map(([email, name]) =>
      objectText([
        ['email', email],
        ['name', name],
      ]),
    ),
  },
);
const orderBody = fc
  .oneof(
    { weight: 2, arbitrary: fc.integer({ min: -(2 ** 31) - 2, max: 2 ** 31 + 1 }) },
    { weight: 1, arbitrary: numberValue },
  )
  .map((totalCents) => objectText([['totalCents', totalCents]]));
const json = (data: fc.Arbitrary<string>) =>
  data.map((text): FuzzBody => ({ contentType: 'application/json', data: text }));

const RAW_JSON = [
  'null',
  '[]',
  '"x"',
  '123',
  'true',
  '{}',
  '""',
  '[{"email":"a@example.com","name":"n"}]',
  '{',
  '{"email":',
  '{"a":1,}',
  "{'a':1}",
  '\u0000',
  '{"email":"a@example.com","name":"x"}garbage',
  '{"email":"a@example.com","name":"\\ud800"}',
  '{"email":"a@example.com","name":"\\u0000"}',
  '{"email":"\\u0000","name":"\\udfff\\ud800"}',
  'undefined',
  'NaN',
  '{"totalCents":1e999}',
  '{"totalCents":-0}',
  '{"totalCents":2147483648}',
  '{"totalCents":9007199254740993}',
  '{"__proto__":{"email":"proto@example.com","name":"p"}}',
  '{"__proto__":{"totalCents":1}}',
  '{"constructor":{"prototype":{"email":"x"}}}',
  '{"email":"a@example.com","name":"a","email":null}',
];

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=x-unknown',
  'application/x-www-form-urlencoded',
  'text/plain',
  'application/octet-stream',
  'multipart/form-data',
  'multipart/form-data; boundary=x',
  '',
  'application/vnd.api+json',
  '*/*',
  'application/json, text/plain',
];

const FORMS = [
  'email=a%40example.com&name=b',
  'email[$ne]=1&name=x',
  'a[b][c]=1',
  '__proto__[email]=x&name=y',
  'totalCents=1',
  'email=%ED%A0%80&name=%00',
  '=&=&&',
];

const GZIP_BOMB = gzipSync(Buffer.alloc(8 * 1024 * 1024));
const GZIP_USER = gzipSync(Buffer.from('{"email":"gz@example.com","name":"Gzip"}'));

/** Request bodies: JSON of right and wrong shapes, deep, big, broken; other content types; compressed and bombs. */
export const bodyArb: fc.Arbitrary<FuzzBody> = fc.oneof(
  { weight: 6, arbitrary: jsonObjectBody.map((data) => ({ contentType: 'application/json', data })) },
  { weight: 3, arbitrary: json(fc.oneof(userBody, patchBody, orderBody)) },
  { weight: 2, arbitrary: fc.constantFrom(...RAW_JSON).map((data) => ({ contentType: 'application/json', data })) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 10, max: 20_000 }), fc.boolean()).map(([depth, arrays]) => ({
      contentType: 'application/json',
      data: arrays ? '['.repeat(depth) + ']'.repeat(depth) : `${'{"name":'.repeat(depth)}1${'}'.repeat(depth)}`,
    })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 50_000, max: 200_000 }).map((size) => ({
      contentType: 'application/json',
      data: objectText([
        ['email', 'big@example.com'],
        ['name', 'x'.repeat(size)],
      ]),
    })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...CONTENT_TYPES),
        fc.oneof(
          hostileString,
          jsonObjectBody,
          fc.constantFrom(...FORMS),
          fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
        ),
      )
      .map(([contentType, data]) => ({ contentType, data })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<FuzzBody>(
      { contentType: 'application/json', contentEncoding: 'gzip', data: GZIP_BOMB },
      { contentType: 'application/json', contentEncoding: 'gzip', data: GZIP_USER },
      { contentType: 'application/json', contentEncoding: 'deflate', data: GZIP_USER },
      { contentType: 'application/json', contentEncoding: 'gzip', data: '{"email":"a@example.com","name":"b"}' },
      { contentType: 'application/json', contentEncoding: 'br', data: GZIP_USER },
      { contentType: 'application/json', contentEncoding: 'x-unknown', data: '{}' },
      { contentType: 'application/json', contentEncoding: 'gzip, gzip', data: GZIP_USER },
    ),
  },
);

// ---------------------------------------------------------------- whole requests

const method = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...FUZZ_METHODS) },
  { weight: 1, arbitrary: fc.constant<FuzzMethod>('GET') },
);

/** Anything: any method, path, query, headers and body. */
export function anyRequest(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method,
      path: pathArb(world),
      query: fc.oneof({ weight: 2, arbitrary: fc.constant('') }, { weight: 3, arbitrary: queryText(world) }),
      headers: fc.array(fc.oneof(tokenHeader(world), otherHeader), { maxLength: 2 }),
      body: fc.option(bodyArb, { nil: undefined, freq: 2 }),
    })
    .map((r) => new FuzzRequest(r.method, r.path, r.query, r.headers, r.body));
}

/** `GET /users` (sometimes HEAD) with hostile paging parameters. */
export function listRequest(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method: fc.constantFrom<FuzzMethod>('GET', 'GET', 'GET', 'HEAD'),
      path: fc.constantFrom('/users', '/users/'),
      query: queryText(world),
    })
    .map((r) => new FuzzRequest(r.method, r.path, r.query));
}

/** `GET /users?first=…&after=…`: cursors with their own query (so forged values reach validation) or another one. */
export function cursorRequest(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      real: fc.constantFrom(...world.cursors),
      edit: cursorEdit(world),
      first: fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 100 }).map(String) },
        { weight: 1, arbitrary: numberText },
      ),
      // mostly the cursor's own orderBy and order: a forged cursor then reaches the check of its values
      sameQuery: fc.constantFrom(true, true, true, false),
      orderBy: fc.constantFrom(...USER_SORTS),
      order: fc.constantFrom('asc', 'desc'),
    })
    .map((r) => {
      const orderBy = r.sameQuery ? r.real.orderBy : r.orderBy;
      const order = r.sameQuery ? r.real.order : r.order;
      const after = r.edit(r.real);
      const query = `first=${percentEncode(r.first)}&after=${percentEncode(after)}&orderBy=${orderBy}&order=${order}`;
      const payload = Buffer.from(after.split('.')[0], 'base64url').toString('utf8');
      return new FuzzRequest('GET', '/users', query, [], undefined, `after holds ${JSON.stringify(payload)}`);
    });
}

/**
 * Writes: mostly the right method and body shape for the route (so values reach the database), with
 * ids that mostly exist; else any write method, route and body.
 */
export function writeRequest(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const id = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...world.userIds) },
    { weight: 1, arbitrary: idSegment(world) },
  );
  const onTarget = fc.oneof(
    json(userBody).map((body) => new FuzzRequest('POST', '/users', '', [], body)),
    fc.tuple(id, json(patchBody)).map(([x, body]) => new FuzzRequest('PATCH', `/users/${x}`, '', [], body)),
    fc.tuple(id, json(orderBody)).map(([x, body]) => new FuzzRequest('POST', `/users/${x}/orders`, '', [], body)),
  );
  const anyWrite = fc
    .record({
      method: fc.constantFrom<FuzzMethod>('POST', 'POST', 'PATCH', 'PATCH', 'PUT', 'DELETE'),
      path: fc.oneof(
        fc.constant('/users'),
        id.map((x) => `/users/${x}`),
        id.map((x) => `/users/${x}/orders`),
      ),
      body: fc.option(bodyArb, { nil: undefined, freq: 8 }),
    })
    .map((r) => new FuzzRequest(r.method, r.path, '', [], r.body));
  return fc.oneof({ weight: 3, arbitrary: onTarget }, { weight: 2, arbitrary: anyWrite });
}

/** Reads and writes on existing users carrying forged, tampered, repeated or over-long consistency tokens. */
export function tokenRequest(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const user = fc.constantFrom(...world.userIds);
  const valid = fc.constantFrom<FuzzBody>({
    contentType: 'application/json',
    data: '{"email":"token@example.com","name":"Token"}',
  });
  const order = fc.constantFrom<FuzzBody>({ contentType: 'application/json', data: '{"totalCents":100}' });
  const call = fc.oneof(
    fc.constant(['GET', '/users', 'limit=2'] as const),
    fc.constant(['GET', '/users', 'first=2'] as const),
    fc.constant(['GET', '/stats', ''] as const),
    user.map((u) => ['GET', `/users/${u}`, ''] as const),
    user.map((u) => ['GET', `/users/${u}/orders`, ''] as const),
    user.map((u) => ['PATCH', `/users/${u}`, ''] as const),
    user.map((u) => ['POST', `/users/${u}/orders`, ''] as const),
    fc.constant(['POST', '/users', ''] as const),
  );
  return fc
    .tuple(call, fc.array(tokenHeader(world), { minLength: 1, maxLength: 2 }), valid, order)
    .map(
      ([[m, path, query], headers, userBody, orderBody]) =>
        new FuzzRequest(
          m,
          path,
          query,
          headers,
          m === 'GET' ? undefined : path.endsWith('/orders') ? orderBody : userBody,
        ),
    );
}
