/** Error codes that mean the server or the connection went away (not a problem with the statement). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
]);
/** SQLSTATEs: admin/crash shutdown, cannot connect now, and class 08 (connection exception). */
const SQLSTATES = new Set(['57P01', '57P02', '57P03']);
const MESSAGES =
  /connection terminated|terminating connection|connection (?:is )?(?:closed|ended)|server closed the connection|the database system is (?:shutting down|starting up)|timeout exceeded when trying to connect/i;

/** True when `error` (or an error it wraps) says the node went away, so the node is down, not the query wrong. */
export function isConnectionFailure(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATES.has(code) || code.startsWith('08')))
      return true;
    if (typeof message === 'string' && MESSAGES.test(message)) return true;
    if (e instanceof AggregateError && e.errors.some(isConnectionFailure)) return true;
    e = (e as { cause?: unknown; previous?: unknown }).cause ?? (e as { previous?: unknown }).previous;
  }
  return false;
}

/** A one-line reason for health output: the message only (connection errors carry host and port, never passwords). */
export function failureReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n', 1)[0].slice(0, 300);
}
