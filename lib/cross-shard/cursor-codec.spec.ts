import { InvalidCursorError } from '../errors/invalid-cursor.error.js';
import { CursorCodec, queryFingerprint } from './cursor-codec.js';

describe('CursorCodec', () => {
  const codec = new CursorCodec('a-secret-of-enough-length');
  const fingerprint = queryFingerprint(['User', [['createdAt', true, true]], { active: true }]);
  const values = [new Date('2026-01-02T03:04:05.678Z'), '12345678901234567890', null, 7, 10n, false];

  it('round-trips the sort values with their types', () => {
    const cursor = codec.encode(fingerprint, values);
    expect(cursor).toMatch(/^[\w-]+\.[\w-]+$/);
    expect(codec.decode(cursor, fingerprint, values.length, 'test')).toEqual(values);
  });

  it('refuses a tampered cursor, a foreign one, another secret and garbage', () => {
    const cursor = codec.encode(fingerprint, values);
    const [body, mac] = cursor.split('.');
    const edited = Buffer.from(Buffer.from(body, 'base64url').toString().replace('"k":[', '"k":[1,')).toString(
      'base64url',
    );
    expect(() => codec.decode(`${edited}.${mac}`, fingerprint, values.length, 'find')).toThrow(/signature/);
    const other = queryFingerprint(['User', [['createdAt', false, false]], { active: true }]);
    expect(() => codec.decode(cursor, other, values.length, 'find')).toThrow(/another query/);
    expect(() => new CursorCodec('another-secret-here!').decode(cursor, fingerprint, 6, 'find')).toThrow(
      InvalidCursorError,
    );
    expect(() => codec.decode('not a cursor', fingerprint, 6, 'find')).toThrow(/not a cursor/);
    expect(() => codec.decode(42, fingerprint, 6, 'find')).toThrow(InvalidCursorError);
  });

  it('fingerprints filters by content, not key order', () => {
    expect(queryFingerprint([{ a: 1, b: { c: 2, d: 3 } }])).toBe(queryFingerprint([{ b: { d: 3, c: 2 }, a: 1 }]));
    expect(queryFingerprint([{ a: 1 }])).not.toBe(queryFingerprint([{ a: 2 }]));
  });
});
