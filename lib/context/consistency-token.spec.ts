import { InvalidConsistencyTokenError } from '../errors/invalid-consistency-token.error.js';
import { formatLsn, parseLsn } from '../topology/lsn.js';
import { decodeConsistencyToken, encodeConsistencyToken } from './consistency-token.js';

describe('WAL positions and the consistency token', () => {
  it('parses and prints pg_lsn values, ordered as PostgreSQL orders them', () => {
    expect(parseLsn('0/3000148')).toBe(0x3000148n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(formatLsn(parseLsn('16/B374D848')!)).toBe('16/B374D848');
    expect(parseLsn('1/0')! > parseLsn('0/FFFFFFFF')!).toBe(true);
    for (const bad of ['', '0/', '/1', '0-1', 'x/1', '123456789/0', null, 7]) expect(parseLsn(bad)).toBeUndefined();
  });

  it('round-trips positions; ignores shards the topology does not have', () => {
    const token = encodeConsistencyToken(
      new Map([
        ['s0', 5n],
        ['s1', 0x100000000n],
      ]),
    )!;
    expect(token).toMatch(/^c1\.[A-Za-z0-9_-]+$/);
    expect(decodeConsistencyToken(token, ['s0', 's1'])).toEqual(
      new Map([
        ['s0', 5n],
        ['s1', 0x100000000n],
      ]),
    );
    expect(decodeConsistencyToken(token, ['s1'])).toEqual(new Map([['s1', 0x100000000n]]));
    expect(encodeConsistencyToken(new Map())).toBeUndefined();
  });

  it('refuses anything else with a clear error', () => {
    const forged = (body: unknown) => 'c1.' + Buffer.from(JSON.stringify(body)).toString('base64url');
    for (const bad of [
      'x',
      'c1.',
      'c1.!!!',
      forged([1]),
      forged({ s0: 'nope' }),
      forged(null),
      'c1.' + 'A'.repeat(5_000),
    ]) {
      expect(() => decodeConsistencyToken(bad, ['s0'])).toThrow(InvalidConsistencyTokenError);
    }
    expect(() => decodeConsistencyToken('x', ['s0'])).toThrow(/Send back exactly the token/);
  });
});
