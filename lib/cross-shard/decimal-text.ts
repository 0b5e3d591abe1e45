/**
 * Exact arithmetic on PostgreSQL's decimal text (bigint and numeric come through `pg` as strings):
 * sums of shard sums, and AVG = Σsum / Σcount with the scale PostgreSQL's own numeric division picks.
 */

interface Scaled {
  units: bigint;
  scale: number;
}

function parse(text: string): Scaled {
  const trimmed = text.trim();
  const negative = trimmed.startsWith('-');
  const [whole, frac = ''] = trimmed.replace(/^[-+]/, '').split('.');
  const units = BigInt((whole || '0') + frac);
  return { units: negative ? -units : units, scale: frac.length };
}

function format({ units, scale }: Scaled): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

function rescale(value: Scaled, scale: number): bigint {
  return value.units * 10n ** BigInt(scale - value.scale);
}

/** a + b, keeping the larger display scale (as PostgreSQL's numeric addition does). */
export function addDecimals(a: string, b: string): string {
  const x = parse(a);
  const y = parse(b);
  const scale = Math.max(x.scale, y.scale);
  return format({ units: rescale(x, scale) + rescale(y, scale), scale });
}

/**
 * sum / count as PostgreSQL's `numeric_div` gives it: at least 16 significant digits, never fewer
 * fraction digits than the sum has, rounded half away from zero (select_div_scale in numeric.c).
 */
export function averageDecimal(sum: string, count: bigint): string {
  const dividend = parse(sum);
  const scale = divisionScale(dividend, { units: count, scale: 0 });
  // units / count at `scale` fraction digits, rounded half away from zero
  const numerator = dividend.units * 10n ** BigInt(scale + 1);
  const denominator = count * 10n ** BigInt(dividend.scale);
  let quotient = numerator / denominator; // one extra digit, truncated toward zero
  quotient = (quotient + (quotient < 0n ? -5n : 5n)) / 10n;
  return format({ units: quotient, scale });
}

const NUMERIC_MIN_SIG_DIGITS = 16;
const DEC_DIGITS = 4;

function divisionScale(a: Scaled, b: Scaled): number {
  const [weight1, first1] = leadingBaseDigit(a);
  const [weight2, first2] = leadingBaseDigit(b);
  let qweight = weight1 - weight2;
  if (first1 <= first2) qweight--;
  const rscale = Math.max(NUMERIC_MIN_SIG_DIGITS - qweight * DEC_DIGITS, a.scale, b.scale, 0);
  return Math.min(rscale, 1000);
}

/** Weight and value of the first non-zero base-10000 digit, as numeric.c stores numbers ([0, 0] for zero). */
function leadingBaseDigit({ units, scale }: Scaled): [number, number] {
  const digits = (units < 0n ? -units : units).toString();
  if (digits === '0') return [0, 0];
  const intPart = digits.length > scale ? digits.slice(0, digits.length - scale) : '';
  if (intPart) {
    const groups = Math.ceil(intPart.length / DEC_DIGITS);
    const head = intPart.length - DEC_DIGITS * (groups - 1);
    return [groups - 1, Number(intPart.slice(0, head))];
  }
  const frac = digits.padStart(scale, '0');
  const padded = frac.padEnd(Math.ceil(frac.length / DEC_DIGITS) * DEC_DIGITS, '0');
  for (let i = 0; i < padded.length; i += DEC_DIGITS) {
    const group = Number(padded.slice(i, i + DEC_DIGITS));
    if (group) return [-(i / DEC_DIGITS) - 1, group];
  }
  return [0, 0];
}
