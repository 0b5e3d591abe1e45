import type { SortTerm } from './sort-key.js';
import { isTemporalText, temporalColumn, type TemporalColumn } from './time-text.js';

/** A cursor value as the codec stores it: JSON, with dates, bigints and non-finite numbers tagged. */
export type EncodedValue = null | number | string | boolean | { d: string } | { b: string } | { n: string };

const INTEGER = /^(smallint|int2|integer|int|int4|serial|serial4|smallserial|serial2)\b/i;
const BIGINT = /^(bigint|int8|bigserial|serial8)\b/i;
const DECIMAL = /^(numeric|decimal)\b/i;
const FLOAT = /^(real|float4|double precision|float8|float)\b/i;
const BOOLEAN = /^(boolean|bool)\b/i;
const UUID = /^uuid\b/i;

const INT_RANGE: Record<string, [number, number]> = {
  smallint: [-32768, 32767],
  int2: [-32768, 32767],
  smallserial: [-32768, 32767],
  serial2: [-32768, 32767],
};
const INT4: [number, number] = [-2147483648, 2147483647];
const INT8_MAX = 9223372036854775807n;
const DECIMAL_TEXT = /^-?\d{1,131072}(\.\d{1,16383})?$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const FLOAT_TEXT = /^(?:-?(?:\d{1,400}(?:\.\d{0,400})?|\.\d{1,400})(?:e[+-]?\d{1,3})?|NaN|-?Infinity)$/i;
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Longer than any sort value a page ends on in practice: a cursor is not a place to send a payload. */
const MAX_TEXT = 10_000;

/**
 * The sort value a cursor holds for `term`, as the merge and the keyset filter need it, or `undefined`
 * when it cannot be a value of that column (wrong type, out of range, a NUL byte PostgreSQL cannot
 * take...). Checked before any statement is built with it.
 */
export function cursorValue(term: SortTerm, value: EncodedValue): unknown {
  if (value === null) return term.nullable ? null : undefined;
  const type = term.columnType ?? '';
  if (INTEGER.test(type)) return integerValue(value, INT_RANGE[type.split(/\W/, 1)[0].toLowerCase()] ?? INT4);
  if (BIGINT.test(type)) return bigintValue(value);
  if (DECIMAL.test(type)) return decimalValue(value);
  if (FLOAT.test(type)) return floatValue(value);
  const temporal = temporalColumn(type);
  if (temporal) return timeValue(value, temporal);
  if (BOOLEAN.test(type)) return typeof value === 'boolean' ? value : undefined;
  if (typeof value !== 'string' || value.length > MAX_TEXT || value.includes('\u0000') || !wellFormed(value)) {
    return undefined;
  }
  return UUID.test(type) && !UUID_TEXT.test(value) ? undefined : value;
}

function integerValue(value: EncodedValue, [min, max]: [number, number]): unknown {
  const number = typeof value === 'string' && /^-?\d{1,10}$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) return undefined;
  return value;
}

/** A bigint column's value keeps the type the entity maps it to: number, decimal string or bigint. */
function bigintValue(value: EncodedValue): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  const text = typeof value === 'string' ? value : isTagged(value, 'b') ? value.b : undefined;
  if (text === undefined || !/^-?\d{1,19}$/.test(text)) return undefined;
  const big = BigInt(text);
  if (big > INT8_MAX || big < -INT8_MAX - 1n) return undefined;
  return typeof value === 'string' ? text : big;
}

function decimalValue(value: EncodedValue): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  return typeof value === 'string' && value.length <= MAX_TEXT && DECIMAL_TEXT.test(value) ? value : undefined;
}

function floatValue(value: EncodedValue): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') return FLOAT_TEXT.test(value) ? value : undefined;
  // as text: a non-finite number would be written into the SQL as a bare word (MikroORM inlines numbers)
  if (isTagged(value, 'n') && ['NaN', 'Infinity', '-Infinity'].includes(value.n)) return value.n;
  return undefined;
}

function timeValue(value: EncodedValue, kind: TemporalColumn): unknown {
  if (typeof value === 'string') return isTemporalText(value, kind) ? value : undefined;
  // a Date of an entity (the year 0 is not PostgreSQL's: it counts 1 BC, 1 AD)
  if (!isTagged(value, 'd') || !ISO_TIME.test(value.d) || value.d.startsWith('0000')) return undefined;
  const date = new Date(value.d);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function isTagged<K extends 'd' | 'b' | 'n'>(
  value: EncodedValue,
  tag: K,
): value is Extract<EncodedValue, Record<K, string>> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.keys(value).length === 1 &&
    typeof (value as Record<string, unknown>)[tag] === 'string'
  );
}

/** No lone surrogate: PostgreSQL's UTF-8 cannot hold one (the statement would fail). */
function wellFormed(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}
