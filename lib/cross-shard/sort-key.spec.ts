import { compareKeys, type SortTerm } from './sort-key.js';
import { compareCodePoints, compareDecimals, compareValues } from './value-order.js';

const term = (over: Partial<SortTerm>): SortTerm => ({
  property: 'x',
  descending: false,
  nullsFirst: false,
  nullable: true,
  kind: 'other',
  columnType: undefined,
  ...over,
});

describe('sort order as PostgreSQL has it', () => {
  it('puts NULLs last for ASC and first for DESC by default, and where QueryOrder says otherwise', () => {
    const values = [3, null, 1, 2];
    const sorted = (t: SortTerm) => [...values].sort((a, b) => compareKeys([t], [a], [b]));
    expect(sorted(term({}))).toEqual([1, 2, 3, null]); // ASC = ASC NULLS LAST
    expect(sorted(term({ descending: true, nullsFirst: true }))).toEqual([null, 3, 2, 1]); // DESC = DESC NULLS FIRST
    expect(sorted(term({ nullsFirst: true }))).toEqual([null, 1, 2, 3]); // ASC NULLS FIRST
    expect(sorted(term({ descending: true }))).toEqual([3, 2, 1, null]); // DESC NULLS LAST
  });

  it('uses later terms only on ties, each with its own direction', () => {
    const terms = [term({ property: 'a' }), term({ property: 'b', descending: true, nullsFirst: true })];
    const rows = [
      [1, 1],
      [0, 5],
      [1, null],
      [1, 7],
    ];
    expect([...rows].sort((x, y) => compareKeys(terms, x, y))).toEqual([
      [0, 5],
      [1, null],
      [1, 7],
      [1, 1],
    ]);
  });

  it('compares bigint and numeric text exactly, beyond 2^53 and with fractions', () => {
    expect(compareDecimals('9007199254740993', '9007199254740992')).toBe(1);
    expect(compareDecimals('-10', '-9')).toBe(-1);
    expect(compareDecimals('2.50', '2.5')).toBe(0);
    expect(compareDecimals('-0.00', '0')).toBe(0);
    expect(compareDecimals('0.10', '0.09')).toBe(1);
    expect(compareValues('10', '9', 'decimal')).toBe(1);
    expect(compareValues('10', '9', 'text')).toBe(-1);
  });

  it('compares text by code point (the C collation), not by UTF-16 unit', () => {
    expect(compareCodePoints('B', 'a')).toBe(-1);
    expect(compareCodePoints('ab', 'abc')).toBe(-1);
    // U+FF5E (3 UTF-8 bytes) sorts before U+1F600 (4 bytes); JavaScript's < says the opposite
    expect('\u{1F600}' < '\uFF5E').toBe(true);
    expect(compareCodePoints('\u{1F600}', '\uFF5E')).toBe(1);
  });

  it('compares dates by instant and booleans false first', () => {
    expect(compareValues(new Date(5), new Date(4), 'other')).toBe(1);
    expect(compareValues(false, true, 'other')).toBe(-1);
  });
});
