import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidCursorError } from '../errors/invalid-cursor.error.js';

import { cursorValue, type EncodedValue as Encoded } from './cursor-values.js';
import type { SortTerm } from './sort-key.js';

/**
 * Opaque keyset cursors: the last row's sort values plus a fingerprint of the query they belong to,
 * HMAC-signed so a client cannot edit them or replay one query's cursor on another.
 */
export class CursorCodec {
  constructor(private readonly secret: string) {}

  encode(fingerprint: string, values: readonly unknown[]): string {
    const body = Buffer.from(JSON.stringify({ v: 1, f: fingerprint, k: values.map(encodeValue) })).toString(
      'base64url',
    );
    return `${body}.${this.sign(body)}`;
  }

  /**
   * The sort values of a cursor issued by `encode` for this fingerprint, each checked to be a value of
   * its sort column; `InvalidCursorError` for anything else (never another error, never a statement).
   */
  decode(cursor: unknown, fingerprint: string, terms: readonly SortTerm[], caller: string): unknown[] {
    if (typeof cursor !== 'string' || !/^[\w-]+\.[\w-]+$/.test(cursor)) {
      throw new InvalidCursorError(
        `${caller}: "after" is not a cursor. Pass the nextCursor of the previous page unchanged, or omit "after" for the first page.`,
      );
    }
    const [body, mac] = cursor.split('.');
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new InvalidCursorError(
        `${caller}: the cursor's signature does not match: it was altered, or signed with another crossShard.cursorSecret ` +
          '(set the same secret on every instance so cursors survive restarts). Start again from the first page.',
      );
    }
    const payload = parsePayload(body);
    const stored = payload?.f === fingerprint && Array.isArray(payload.k) ? payload.k : undefined;
    if (!stored || stored.length !== terms.length) {
      throw new InvalidCursorError(
        `${caller}: the cursor belongs to another query (a different entity, orderBy or where). ` +
          'Use a cursor with the query that produced it, or omit "after" for the first page.',
      );
    }
    return terms.map((term, i) => {
      const value = cursorValue(term, stored[i]);
      if (value === undefined) {
        throw new InvalidCursorError(
          `${caller}: the cursor does not hold a value of ${term.property}. Pass the nextCursor of the previous page unchanged, or omit "after" for the first page.`,
        );
      }
      return value;
    });
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url').slice(0, 22);
  }
}

/** A short, stable hash of what makes two queries the same for paging purposes. */
export function queryFingerprint(parts: unknown[]): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('base64url').slice(0, 16);
}

/** JSON with sorted keys, Dates and bigints spelled out: equal filters give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, raw: unknown) {
    const current = key === '' ? value : (this as Record<string, unknown>)[key];
    if (current instanceof Date) return { $date: current.toISOString() };
    if (typeof current === 'bigint') return { $bigint: current.toString() };
    if (current && typeof current === 'object' && !Array.isArray(current)) {
      return Object.fromEntries(
        Object.keys(current)
          .sort()
          .map((k) => [k, (current as Record<string, unknown>)[k]]),
      );
    }
    return raw;
  });
}

function encodeValue(value: unknown): Encoded {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return { d: value.toISOString() };
  if (typeof value === 'bigint') return { b: value.toString() };
  if (typeof value === 'number' && !Number.isFinite(value)) return { n: String(value) };
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  return String(value);
}

function parsePayload(body: string): { f?: unknown; k?: Encoded[] } | undefined {
  try {
    const payload: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    return typeof payload === 'object' && payload !== null ? (payload as { f?: unknown; k?: Encoded[] }) : undefined;
  } catch {
    return undefined;
  }
}
