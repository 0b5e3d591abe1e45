import { isConnectionFailure } from './connection-failure.js';

describe('isConnectionFailure', () => {
  it('recognises a server or connection that went away, also when wrapped', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { code: 'ECONNREFUSED' });
    expect(isConnectionFailure(refused)).toBe(true);
    expect(isConnectionFailure(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(
      isConnectionFailure(
        Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      ),
    ).toBe(true);
    expect(isConnectionFailure(Object.assign(new Error('x'), { code: '08006' }))).toBe(true);
    expect(isConnectionFailure(new Error('wrapped', { cause: refused }))).toBe(true);
    expect(isConnectionFailure(Object.assign(new Error('driver'), { previous: refused }))).toBe(true);
    expect(isConnectionFailure(new AggregateError([refused]))).toBe(true);
  });

  it('does not mistake a bad statement for a dead node', () => {
    expect(isConnectionFailure(Object.assign(new Error('relation "x" does not exist'), { code: '42P01' }))).toBe(false);
    expect(isConnectionFailure(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isConnectionFailure(undefined)).toBe(false);
  });
});
