import { narrowedKeys } from './shard-narrowing.js';

describe('narrowedKeys', () => {
  it('narrows on equality, $eq, $in, arrays and the primary-key shorthand', () => {
    expect(narrowedKeys({ id: 5, name: 'x' }, 'id', true)).toEqual([5]);
    expect(narrowedKeys({ id: { $eq: '7' } }, 'id', true)).toEqual(['7']);
    expect(narrowedKeys({ id: { $in: [1, 2] } }, 'id', true)).toEqual([1, 2]);
    expect(narrowedKeys({ id: [3, 4] }, 'id', true)).toEqual([3, 4]);
    expect(narrowedKeys(9, 'id', true)).toEqual([9]);
    expect(narrowedKeys({ id: { $in: [] } }, 'id', true)).toEqual([]);
  });

  it('intersects conditions of a top-level $and', () => {
    expect(narrowedKeys({ $and: [{ id: { $in: [1, 2, 3] } }, { id: { $in: ['2', 3] } }] }, 'id', true)).toEqual([2, 3]);
    expect(narrowedKeys({ id: 1, $and: [{ id: 2 }] }, 'id', true)).toEqual([]);
  });

  it('does not narrow on anything it cannot prove', () => {
    expect(narrowedKeys({}, 'id', true)).toBeUndefined();
    expect(narrowedKeys({ $or: [{ id: 1 }, { id: 2 }] }, 'id', true)).toBeUndefined();
    expect(narrowedKeys({ id: { $gt: 1 } }, 'id', true)).toBeUndefined();
    expect(narrowedKeys({ id: { $ne: 1 } }, 'id', true)).toBeUndefined();
    expect(narrowedKeys({ id: null }, 'id', true)).toBeUndefined();
    expect(narrowedKeys({ user: { id: 1 } }, 'user', false)).toBeUndefined();
    expect(narrowedKeys(9, 'userId', false)).toBeUndefined();
  });
});
