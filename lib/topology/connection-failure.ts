/**
 * What a failed statement says about its node, from error codes only:
 * - `unreachable`: the server refused or never answered a new connection (nothing was sent): the node
 *   is down, no doubt about it;
 * - `lost`: an open connection broke (reset, terminated by the server, closed): the node may be down,
 *   or only this connection was (a backend killed by `pg_terminate_backend`, a network blip). A statement
 *   in flight may or may not have been applied;
 * - `undefined`: the statement failed (SQL, constraint, protocol error about this one message): the
 *   node is fine.
 */
export type ConnectionFailure = 'unreachable' | 'lost';

/** Socket codes of a connection that could not be made. */
const UNREACHABLE_SOCKET = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** Socket codes of a connection that broke. */
const LOST_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);
/** SQLSTATEs of a server that does not take connections now (starting up, shutting down, in recovery). */
const UNREACHABLE_SQLSTATE = new Set(['57P03', '08001', '08004']);
/**
 * SQLSTATEs of a connection the server ended: admin or crash shutdown, and class 08 (connection
 * exception) except 08P01 (protocol violation: one bad message, e.g. a NUL byte in a value, not a node
 * failure) and the two "could not connect" codes above.
 */
const LOST_SQLSTATE = new Set([
  '57P01',
  '57P02',
  '57P04', // the database was dropped
  '57P05', // idle_session_timeout ended the session
  '25P03', // idle_in_transaction_session_timeout ended it
  '08000',
  '08003',
  '08006',
  '08007',
]);
/**
 * Errors the pg client raises itself, with no code (the server sent nothing): matched on the whole
 * message, and only when no error in the chain carries a code.
 */
const CLIENT_LOST =
  /^(?:Connection terminated(?: unexpectedly)?|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)$/;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** How `error` (or an error it wraps) says its connection failed, or undefined when the statement did. */
export function connectionFailure(error: unknown): ConnectionFailure | undefined {
  const chain = errorChain(error);
  for (const e of chain) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    // the first code decides: a server that sent one told us what went wrong, whatever the text says
    if (UNREACHABLE_SOCKET.has(code) || UNREACHABLE_SQLSTATE.has(code)) return 'unreachable';
    if (LOST_SOCKET.has(code) || LOST_SQLSTATE.has(code)) return 'lost';
    // any other error of a socket call (Node sets `syscall`): the connection, not the statement
    const syscall = (e as { syscall?: unknown }).syscall;
    if (typeof syscall === 'string')
      return syscall === 'connect' || syscall.startsWith('getaddrinfo') ? 'unreachable' : 'lost';
    if (SQLSTATE.test(code) || code.startsWith('E')) return undefined;
  }
  for (const e of chain) {
    const message = (e as { message?: unknown }).message;
    if (typeof message !== 'string') continue;
    if (message === 'Connection terminated due to connection timeout') return 'unreachable';
    if (CLIENT_LOST.test(message)) return 'lost';
  }
  return undefined;
}

/** True when `error` says the node or the connection went away, not that the statement was wrong. */
export function isConnectionFailure(error: unknown): boolean {
  return connectionFailure(error) !== undefined;
}

/** The error and what it wraps (`cause`, MikroORM's `previous`, an AggregateError's members), bounded. */
function errorChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  const visit = (e: unknown, depth: number) => {
    if (!e || typeof e !== 'object' || depth > 5 || chain.includes(e)) return;
    chain.push(e);
    if (e instanceof AggregateError) for (const member of e.errors) visit(member, depth + 1);
    const { cause, previous } = e as { cause?: unknown; previous?: unknown };
    visit(cause ?? previous, depth + 1);
  };
  visit(error, 0);
  return chain;
}

/** A one-line reason for health output: the message only (connection errors carry host and port, never passwords). */
export function failureReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n', 1)[0].slice(0, 300);
}
