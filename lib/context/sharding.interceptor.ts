import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, finalize, map, throwError, type Observable } from 'rxjs';
import { encodeConsistencyToken } from './consistency-token.js';
import { currentFrame, runInFrame } from './context-store.js';
import { callFrame, type RequestScope } from './request-scope.js';
import { ShardingRuntime } from './sharding-runtime.js';

type HeaderBag = Record<string, string | string[] | undefined>;
type Reply = {
  header?: (name: string, value: string) => unknown;
  setHeader?: (name: string, value: string) => unknown;
  headersSent?: boolean;
  sent?: boolean;
};

/**
 * Opens one routing context per HTTP request or RPC message (registered globally by the module
 * unless `interceptor: false`): nested decorated calls in the request share forks, the shard lock and
 * the set of written shards. Works the same on Express and Fastify.
 *
 * Read-your-writes across requests: the consistency token in the request header (default
 * `x-shard-consistency`) sets the WAL positions this request's reads must see; the response carries
 * the token back, advanced past this request's own commits.
 */
@Injectable()
export class ShardingInterceptor implements NestInterceptor {
  constructor(private readonly runtime: ShardingRuntime) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (currentFrame()?.scope.runtime === this.runtime) return next.handle();
    const caller = `${context.getClass().name}.${context.getHandler().name}`;
    if (context.getType() !== 'http' || !this.runtime.settings.readYourWrites) {
      // Nest binds next.handle()'s deferred handler to the async context it is called in.
      const scope = this.runtime.newScope();
      return runInFrame(callFrame(scope, caller, false), () => next.handle()).pipe(finalize(() => scope.release()));
    }
    const http = context.switchToHttp();
    const header = this.runtime.settings.consistencyHeader;
    const incoming = (http.getRequest<{ headers?: HeaderBag }>().headers ?? {})[header];
    const token = Array.isArray(incoming) ? incoming.join(',') : incoming;
    const scope = this.runtime.newScope(undefined, token, `${caller} (request header ${header})`, true);
    const frame = callFrame(scope, caller, false);
    const reply = http.getResponse<Reply>();
    return runInFrame(frame, () => next.handle()).pipe(
      map((value) => {
        sendToken(reply, header, scope);
        return value;
      }),
      // a failed request may have committed writes before failing: the client still gets their positions
      catchError((error: unknown) => {
        sendToken(reply, header, scope);
        return throwError(() => error);
      }),
      finalize(() => scope.release()),
    );
  }
}

function sendToken(reply: Reply, header: string, scope: RequestScope): void {
  const token = encodeConsistencyToken(scope.recordedPositions());
  if (!token || reply.headersSent || reply.sent) return;
  if (typeof reply.header === 'function') reply.header(header, token);
  else reply.setHeader?.(header, token);
}
