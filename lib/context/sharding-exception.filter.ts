import { Catch, HttpStatus, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error.js';
import { CrossShardTransactionError, type CrossShardOutcome } from '../errors/cross-shard-transaction.error.js';
import { CrossShardBoundError, CrossShardQueryError } from '../errors/cross-shard-query.error.js';
import { InvalidConsistencyTokenError } from '../errors/invalid-consistency-token.error.js';
import { InvalidCursorError } from '../errors/invalid-cursor.error.js';
import { ShardKeyMissingError } from '../errors/shard-key-missing.error.js';
import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { ShardUnavailableError } from '../errors/shard-unavailable.error.js';
import { ShardingError } from '../errors/sharding.error.js';

/** What a client receives for one of the library's errors. */
export interface ShardingErrorBody {
  statusCode: number;
  /** The error's class name (`ShardUnavailableError`, `InvalidCursorError`...). */
  error: string;
  /** What the client can act on: no node address, no SQL, no server message. */
  message: string;
  /**
   * `unknown` for `CommitOutcomeUnknownError` and a cross-shard transaction whose decision could not be read
   * back (read back before retrying); `committed` / `aborted` for a cross-shard transaction that committed
   * with shards still to be told (do not retry) or that committed nothing (safe to retry).
   */
  outcome?: CrossShardOutcome;
}

interface Reply {
  status(code: number): Reply;
  send?(body: unknown): unknown;
  json?(body: unknown): unknown;
  header?(name: string, value: string): unknown;
  setHeader?(name: string, value: string): unknown;
}

/** Errors of the client's making: its key, token, cursor or page size. */
const CLIENT_ERRORS = [
  InvalidConsistencyTokenError,
  ShardKeyMissingError,
  ShardRoutingError,
  InvalidCursorError,
  CrossShardBoundError,
];

/**
 * Answers the library's errors over HTTP (Express or Fastify) with what a client can act on, and logs
 * the full detail (node, address without password, the server's message) for the operator:
 * - 503 (with `Retry-After: 1`) while a shard cannot serve — a node down, a cross-shard read that lost a shard, a write whose
 *   commit outcome is unknown (`outcome: 'unknown'`: read it back before retrying), and a cross-shard
 *   transaction that did not simply succeed (`outcome`: `aborted`, `committed` or `unknown`);
 * - 400 for a bad key, consistency token, cursor, or a page beyond the cross-shard bounds (the message
 *   says what to send instead);
 * - 500 for the rest, with a generic message: configuration errors and the program's own routing
 *   mistakes (a write inside `@ReadReplica()`: `ReadOnlyContextError`; an entity flushed to a shard its
 *   key does not map to: `MisplacedEntityError`; `ShardLockError`, `NoShardContextError`), whose
 *   detail (methods, shards, nodes) stays in the log.
 * Register it with `app.useGlobalFilters(new ShardingExceptionFilter())` or `{ provide: APP_FILTER, useClass: ShardingExceptionFilter }`.
 */
@Catch(ShardingError)
export class ShardingExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Sharding');

  catch(error: ShardingError, host: ArgumentsHost): void {
    const body = publicBody(error);
    const detail = `${error.name}: ${error.message}`;
    // an outage makes many of these at once: one line each, no stack
    if (body.statusCode === HttpStatus.SERVICE_UNAVAILABLE) this.logger.warn(detail);
    else if (body.statusCode >= 500) this.logger.error(detail, error.stack);
    else this.logger.debug(detail);
    if (host.getType() !== 'http') return;
    const reply = host.switchToHttp().getResponse<Reply>().status(body.statusCode);
    if (body.statusCode === HttpStatus.SERVICE_UNAVAILABLE) {
      if (typeof reply.header === 'function') reply.header('Retry-After', '1');
      else reply.setHeader?.('Retry-After', '1');
    }
    if (typeof reply.json === 'function') reply.json(body);
    else reply.send?.(body);
  }
}

/** The status and the words a client gets for `error`. */
export function publicBody(error: ShardingError): ShardingErrorBody {
  const { name } = error;
  if (error instanceof CommitOutcomeUnknownError) {
    return {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: name,
      message: `The connection to shard "${error.shard}" was lost while the write was being committed: it may or may not have been applied. Read it back before retrying.`,
      outcome: 'unknown',
    };
  }
  if (error instanceof CrossShardTransactionError) {
    const words = {
      aborted: 'The transaction was rolled back on every shard; nothing was written. Retry later.',
      committed:
        'The transaction is committed; some shards apply it shortly (their rows show the old values until then). Do not retry it.',
      unknown:
        'The connection was lost while the transaction was being committed: it is applied on every shard or on none. Read it back before retrying.',
    };
    return {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: name,
      message: words[error.outcome],
      outcome: error.outcome,
    };
  }
  if (error instanceof ShardUnavailableError) {
    return {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: name,
      message: `Shard "${error.shard}" cannot serve this request now. Retry later.`,
    };
  }
  if (error instanceof CrossShardQueryError && error.shardsUnavailable) {
    const shards = error.failures.map((f) => `"${f.shard}"`).join(', ');
    return {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: name,
      message: `The query needs shard${error.failures.length > 1 ? 's' : ''} ${shards}, which cannot serve it now. Retry later.`,
    };
  }
  if (CLIENT_ERRORS.some((type) => error instanceof type)) {
    return { statusCode: HttpStatus.BAD_REQUEST, error: name, message: error.message };
  }
  return {
    statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
    error: name,
    message: 'The request failed on the server; the operator finds the reason in the log.',
  };
}
