/**
 * Exact checks of date and time text as PostgreSQL prints it (ISO DateStyle, years 1–9999), so that a
 * cursor value that passes is one the server accepts: `9999-99-99`, `2020-02-30`, `24:00:00`, a zone
 * of `+99:99` or the year 0 never become a statement.
 */

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?$/;
const ZONE = /^(?:Z|([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)$/;
const STAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)(Z|[+-][\d:]{2,8})?$/;
const TIME_WITH_ZONE = /^(\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)(Z|[+-][\d:]{2,8})?$/;

/** The kind of temporal column a database type names, or undefined for any other type. */
export type TemporalColumn = 'date' | 'time' | 'timestamp';

export function temporalColumn(columnType: string): TemporalColumn | undefined {
  const type = columnType.toLowerCase();
  if (type.startsWith('timestamp')) return 'timestamp';
  if (type.startsWith('date')) return 'date';
  if (type.startsWith('time')) return 'time';
  return undefined;
}

/** True when PostgreSQL takes `text` as a value of a `kind` column. */
export function isTemporalText(text: string, kind: TemporalColumn): boolean {
  if (kind !== 'time' && (text === 'infinity' || text === '-infinity')) return true;
  if (kind === 'date') return isDate(text);
  if (kind === 'time') {
    const parts = TIME_WITH_ZONE.exec(text);
    return parts !== null && isTime(parts[1]) && (parts[2] === undefined || isZone(parts[2]));
  }
  const parts = STAMP.exec(text);
  return parts !== null && isDate(parts[1]) && isTime(parts[2]) && (parts[3] === undefined || isZone(parts[3]));
}

function isDate(text: string): boolean {
  const parts = DATE.exec(text);
  if (!parts) return false;
  const [year, month, day] = parts.slice(1).map(Number);
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month);
}

function isTime(text: string): boolean {
  const parts = TIME.exec(text);
  if (!parts) return false;
  const [hour, minute, second] = parts.slice(1).map(Number);
  return hour <= 23 && minute <= 59 && second <= 59;
}

/** PostgreSQL takes offsets up to ±15:59:59. */
function isZone(text: string): boolean {
  const parts = ZONE.exec(text);
  if (!parts) return false;
  if (text === 'Z') return true;
  const [hours, minutes = '0', seconds = '0'] = parts.slice(2);
  return Number(hours) <= 15 && Number(minutes) <= 59 && Number(seconds) <= 59;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
