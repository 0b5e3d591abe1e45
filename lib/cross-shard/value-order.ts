/**
 * How a column's values compare, the way PostgreSQL compares them. Only strings are ambiguous in
 * JavaScript: a bigint or numeric column arrives as a decimal string, a text column as text.
 */
export type ValueKind = 'decimal' | 'text' | 'other';

const DECIMAL_COLUMN = /^(bigint|int8|bigserial|serial8|numeric|decimal|integer|int|int4|smallint|int2|serial)\b/i;

/** The kind of a column from its database type (`bigint`, `numeric(10,2)`, `varchar(255)`, ...). */
export function kindOfColumn(columnType: string | undefined): ValueKind {
  if (!columnType) return 'other';
  if (DECIMAL_COLUMN.test(columnType)) return 'decimal';
  return 'text';
}

/**
 * Compares two non-null values as PostgreSQL orders them. Text compares by Unicode code point,
 * which is PostgreSQL's order under the "C" collation (UTF-8 byte order); databases with a
 * linguistic collation order text differently (see README, limits).
 */
export function compareValues(a: unknown, b: unknown, kind: ValueKind): number {
  if (typeof a === 'number' && typeof b === 'number') return compareNumbers(a, b);
  if (a instanceof Date && b instanceof Date) return Math.sign(a.getTime() - b.getTime());
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (typeof a === 'bigint' || typeof b === 'bigint') return compareDecimals(String(a), String(b));
  if (typeof a === 'string' && typeof b === 'string') {
    return kind === 'decimal' ? compareDecimals(a, b) : compareCodePoints(a, b);
  }
  if ((typeof a === 'number' || typeof a === 'string') && (typeof b === 'number' || typeof b === 'string')) {
    return compareDecimals(String(a), String(b));
  }
  return compareCodePoints(String(a), String(b));
}

/** float8 order: NaN sorts above every number, as in PostgreSQL. */
function compareNumbers(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** UTF-8 byte order = code point order; JavaScript's `<` compares UTF-16 units, which differs above U+FFFF. */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return Math.sign(a.length - b.length);
}

/** Exact order of decimal strings (`-12`, `3.50`, `1e3` is not accepted: PostgreSQL never sends it). */
export function compareDecimals(a: string, b: string): number {
  const x = splitDecimal(a);
  const y = splitDecimal(b);
  if (x.zero && y.zero) return 0;
  if (x.negative !== y.negative)
    return x.zero ? (y.negative ? 1 : -1) : y.zero ? (x.negative ? -1 : 1) : x.negative ? -1 : 1;
  const sign = x.negative ? -1 : 1;
  if (x.int.length !== y.int.length) return sign * Math.sign(x.int.length - y.int.length);
  if (x.int !== y.int) return sign * (x.int < y.int ? -1 : 1);
  const width = Math.max(x.frac.length, y.frac.length);
  const fx = x.frac.padEnd(width, '0');
  const fy = y.frac.padEnd(width, '0');
  return fx === fy ? 0 : sign * (fx < fy ? -1 : 1);
}

function splitDecimal(text: string): { negative: boolean; int: string; frac: string; zero: boolean } {
  let s = text.trim();
  const negative = s.startsWith('-');
  if (negative || s.startsWith('+')) s = s.slice(1);
  const [whole, frac = ''] = s.split('.');
  const int = whole.replace(/^0+/, '');
  const cleanFrac = frac.replace(/0+$/, '');
  return { negative, int, frac: cleanFrac, zero: int === '' && cleanFrac === '' };
}
