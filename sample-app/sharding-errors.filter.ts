import { ArgumentsHost, Catch, HttpStatus, type ExceptionFilter } from '@nestjs/common';
import {
  CommitOutcomeUnknownError,
  CrossShardBoundError,
  CrossShardQueryError,
  InvalidConsistencyTokenError,
  InvalidCursorError,
  ShardingError,
  ShardKeyMissingError,
  ShardUnavailableError,
} from '../lib/index.js';

interface Reply {
  status(code: number): Reply;
  send?(body: unknown): unknown;
  json?(body: unknown): unknown;
}

/**
 * Answers the library's errors with a status a client can act on: 503 while a shard cannot serve the
 * call (retry later) — a node down, a cross-shard read that lost a shard, and a write whose commit
 * outcome is unknown (body `outcome: 'unknown'`: read back before retrying) — 400 for a bad consistency
 * token, shard key or cursor, 500 for the rest. The body says why.
 */
@Catch(ShardingError)
export class ShardingErrorsFilter implements ExceptionFilter {
  catch(error: ShardingError, host: ArgumentsHost): void {
    const status = isUnavailability(error)
      ? HttpStatus.SERVICE_UNAVAILABLE
      : error instanceof InvalidConsistencyTokenError ||
          error instanceof ShardKeyMissingError ||
          error instanceof InvalidCursorError ||
          error instanceof CrossShardBoundError
        ? HttpStatus.BAD_REQUEST
        : HttpStatus.INTERNAL_SERVER_ERROR;
    const body = {
      statusCode: status,
      error: error.name,
      message: error.message,
      ...(error instanceof CommitOutcomeUnknownError && { outcome: 'unknown' }),
    };
    const reply = host.switchToHttp().getResponse<Reply>().status(status);
    if (typeof reply.json === 'function') reply.json(body);
    else reply.send?.(body);
  }
}

/** A shard could not serve: a node down, a commit cut off, or a cross-shard read that lost a shard to either. */
function isUnavailability(error: ShardingError): boolean {
  if (error instanceof ShardUnavailableError || error instanceof CommitOutcomeUnknownError) return true;
  return error instanceof CrossShardQueryError && error.shardsUnavailable;
}
