import { ArgumentsHost, Catch, HttpStatus, type ExceptionFilter } from '@nestjs/common';
import {
  InvalidConsistencyTokenError,
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
 * call (retry later), 400 for a bad consistency token or shard key, 500 for the rest. The body says why.
 */
@Catch(ShardingError)
export class ShardingErrorsFilter implements ExceptionFilter {
  catch(error: ShardingError, host: ArgumentsHost): void {
    const status =
      error instanceof ShardUnavailableError
        ? HttpStatus.SERVICE_UNAVAILABLE
        : error instanceof InvalidConsistencyTokenError || error instanceof ShardKeyMissingError
          ? HttpStatus.BAD_REQUEST
          : HttpStatus.INTERNAL_SERVER_ERROR;
    const body = { statusCode: status, error: error.name, message: error.message };
    const reply = host.switchToHttp().getResponse<Reply>().status(status);
    if (typeof reply.json === 'function') reply.json(body);
    else reply.send?.(body);
  }
}
