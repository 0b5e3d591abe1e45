import { ArgumentsHost, Catch, HttpException, HttpStatus, type ExceptionFilter } from '@nestjs/common';
import { DriverException, ValidationError } from '@mikro-orm/core';
import { CommitOutcomeUnknownError, CrossShardTransactionError, publicBody, ShardingError } from '../../lib/index.js';

/** What every error response of the chaos app carries: the workload records it in the history. */
export interface ChaosErrorBody {
  statusCode: number;
  /** The error's class name (`ShardUnavailableError`, `DriverException`, ...). */
  error: string;
  /** SQLSTATE or socket code, from the error or its causes. */
  code?: string;
  /** First line of the message. */
  message: string;
  /**
   * `unknown`: the write may or may not have been applied (the caller must not count it as failed);
   * `applied`: the write was applied, then the read that followed it failed (this is its error);
   * `aborted` / `committed`: a cross-shard transaction rolled back everywhere / committed with a shard's
   * part still prepared (`CrossShardTransactionError.outcome`, as `publicBody` gives it).
   */
  outcome?: 'unknown' | 'applied' | 'aborted' | 'committed';
}

/**
 * Carries the error of the read that followed an append which was applied: the operation as a whole
 * did not complete, yet its value is in the list. The filter answers with the read's error.
 */
export class AppendedThenReadFailed extends Error {
  constructor(readonly readError: unknown) {
    super('the append was applied, then the read failed', { cause: readError });
  }
}

/**
 * SQLSTATE classes a statement causes by itself (bad data, constraint, syntax): the request was
 * wrong, the node is fine. 08P01 too: the server refused one message (a NUL byte in a text value).
 */
const STATEMENT_CLASSES = new Set(['22', '23', '42', '2B', '44']);
const STATEMENT_CODES = new Set(['08P01']);
const CONFLICT_CLASSES = new Set(['40']);

/**
 * The chaos app's answer to every error, so the history can tell them apart: 503 while a shard
 * cannot serve (`ShardUnavailableError`, a cross-shard query that lost a shard) and when a commit's
 * outcome is unknown (`CommitOutcomeUnknownError`, body `outcome: 'unknown'`); 400 for bad input
 * (bad token or key, a statement error such as a NUL byte or text sent as an integer); 409 for a
 * serialization conflict or deadlock; 500 for anything else, which is a finding of the run.
 */
@Catch()
export class ChaosErrorsFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost): void {
    const body =
      error instanceof AppendedThenReadFailed
        ? { ...describe(error.readError), outcome: 'applied' as const }
        : describe(error);
    const reply = host.switchToHttp().getResponse<{ status(code: number): { json(body: unknown): unknown } }>();
    reply.status(body.statusCode).json(body);
  }
}

/** The response body (and status) for `error`. */
export function describe(error: unknown): ChaosErrorBody {
  const name = errorName(error);
  const code = errorCode(error);
  const message = (error instanceof Error ? error.message : String(error)).split('\n', 1)[0].slice(0, 500);
  const status = statusOf(error, code);
  return {
    statusCode: status,
    error: name,
    ...(code !== undefined && { code }),
    message,
    ...(error instanceof CommitOutcomeUnknownError && { outcome: 'unknown' as const }),
    ...(error instanceof CrossShardTransactionError && { outcome: error.outcome }),
  };
}

function statusOf(error: unknown, code: string | undefined): number {
  if (error instanceof HttpException) return error.getStatus();
  // the library's own errors get the status ShardingExceptionFilter gives them
  if (error instanceof ShardingError) return publicBody(error).statusCode;
  if (error instanceof ValidationError) return HttpStatus.BAD_REQUEST;
  if (error instanceof DriverException && code && /^[0-9A-Z]{5}$/.test(code)) {
    if (STATEMENT_CLASSES.has(code.slice(0, 2)) || STATEMENT_CODES.has(code)) return HttpStatus.BAD_REQUEST;
    if (CONFLICT_CLASSES.has(code.slice(0, 2)) || code === '55P03') return HttpStatus.CONFLICT;
  }
  // a lost connection that reached here unnamed, or a bug: the run reports every 500
  return HttpStatus.INTERNAL_SERVER_ERROR;
}

/** The class name (MikroORM and Nest set `name`; plain subclasses may leave `Error`). */
function errorName(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  return error.name && error.name !== 'Error' ? error.name : error.constructor.name;
}

/** The first string `code` on the error or its causes (`cause`, MikroORM's `previous`). */
function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const { code, cause, previous } = current as { code?: unknown; cause?: unknown; previous?: unknown };
    if (typeof code === 'string') return code;
    current = cause ?? previous;
  }
  return undefined;
}
