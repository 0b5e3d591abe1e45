import { connectionFailure, isConnectionFailure } from './connection-failure.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('connectionFailure', () => {
  it('a server that refused or cannot take a connection now: unreachable', () => {
    expect(connectionFailure(withCode('connect ECONNREFUSED 127.0.0.1:5999', 'ECONNREFUSED'))).toBe('unreachable');
    expect(connectionFailure(withCode('the database system is shutting down', '57P03'))).toBe('unreachable');
    expect(connectionFailure(withCode('the database system is starting up', '57P03'))).toBe('unreachable');
    expect(connectionFailure(new Error('Connection terminated due to connection timeout'))).toBe('unreachable');
  });

  it('an open connection that broke: lost, also when wrapped', () => {
    const reset = withCode('read ECONNRESET', 'ECONNRESET');
    expect(connectionFailure(reset)).toBe('lost');
    expect(connectionFailure(withCode('terminating connection due to administrator command', '57P01'))).toBe('lost');
    expect(connectionFailure(withCode('x', '08006'))).toBe('lost');
    expect(connectionFailure(new Error('Connection terminated unexpectedly'))).toBe('lost');
    expect(connectionFailure(new Error('Client has encountered a connection error and is not queryable'))).toBe('lost');
    expect(connectionFailure(new Error('wrapped', { cause: reset }))).toBe('lost');
    expect(connectionFailure(Object.assign(new Error('driver'), { previous: reset }))).toBe('lost');
    expect(connectionFailure(new AggregateError([reset]))).toBe('lost');
    expect(connectionFailure(withCode('terminating connection due to idle-session timeout', '57P05'))).toBe('lost');
    expect(connectionFailure(Object.assign(withCode('write EHOSTDOWN', 'EHOSTDOWN'), { syscall: 'write' }))).toBe(
      'lost',
    );
    expect(connectionFailure(Object.assign(withCode('connect ENETDOWN', 'ENETDOWN'), { syscall: 'connect' }))).toBe(
      'unreachable',
    );
  });

  it('a statement that failed is not a connection failure, whatever its message quotes', () => {
    expect(isConnectionFailure(withCode('relation "x" does not exist', '42P01'))).toBe(false);
    expect(isConnectionFailure(withCode('duplicate key', '23505'))).toBe(false);
    // a NUL byte in a value: the server refuses that one message, the connection and node are fine
    expect(isConnectionFailure(withCode('invalid message format', '08P01'))).toBe(false);
    // a user value echoed in the message must not read as a lost connection
    const quoted = withCode('invalid input syntax for type integer: "connection terminated"', '22P02');
    expect(isConnectionFailure(quoted)).toBe(false);
    expect(isConnectionFailure(Object.assign(new Error('driver: connection terminated'), { previous: quoted }))).toBe(
      false,
    );
    // a full pool is the application's limit, not the node's failure
    expect(isConnectionFailure(new Error('timeout exceeded when trying to connect'))).toBe(false);
    expect(isConnectionFailure(new Error('Connection terminated unexpectedly, said the user'))).toBe(false);
    expect(isConnectionFailure(undefined)).toBe(false);
  });
});
