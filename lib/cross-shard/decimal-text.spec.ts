import { addDecimals, averageDecimal } from './decimal-text.js';

describe('decimal text arithmetic', () => {
  it('adds exactly past 2^53, keeping the larger scale', () => {
    expect(addDecimals('9007199254740993', '9007199254740993')).toBe('18014398509481986');
    expect(addDecimals('1.5', '-2.25')).toBe('-0.75');
    expect(addDecimals('10', '0.10')).toBe('10.10');
  });

  // expected values printed by PostgreSQL 18 for the same numeric division; the integration test checks avg() live
  it('divides with the scale numeric_div picks', () => {
    expect(averageDecimal('10', 3n)).toBe('3.3333333333333333');
    expect(averageDecimal('2', 3n)).toBe('0.66666666666666666667');
    expect(averageDecimal('6', 3n)).toBe('2.0000000000000000');
    expect(averageDecimal('-5', 2n)).toBe('-2.5000000000000000');
    expect(averageDecimal('123456789', 7n)).toBe('17636684.142857142857');
    expect(averageDecimal('0.05', 3n)).toBe('0.01666666666666666667');
  });
});
