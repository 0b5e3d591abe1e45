import { raw } from '@mikro-orm/postgresql';
import { isPlainData } from './sorted-fetch.js';

describe('isPlainData (which filters may share a compiled SQL)', () => {
  it('accepts plain filters', () => {
    expect(isPlainData({ a: 1, $or: [{ b: null }, { c: { $in: ['x', 2n] } }], d: new Date(0) })).toBe(true);
  });

  it('refuses raw fragments as values or keys, and class instances', () => {
    expect(isPlainData({ a: raw('now()') })).toBe(false);
    expect(isPlainData({ [raw('lower(name)')]: 'x' })).toBe(false);
    expect(isPlainData({ user: new (class User {})() })).toBe(false);
  });
});
