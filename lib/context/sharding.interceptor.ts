import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { finalize, type Observable } from 'rxjs';
import { currentFrame, runInFrame } from './context-store.js';
import { callerOf, httpPair, openMessageContext, openRequestContext } from './context-opening.js';
import { ShardingRuntime } from './sharding-runtime.js';

/**
 * Opens one routing context per HTTP request, GraphQL operation or RPC/WebSocket message (the default
 * `context: { mount: 'interceptor' }` registers it globally): nested decorated calls share forks, the
 * shard lock and the set of written shards. Works the same on Express and Fastify; a context the
 * middleware or guard mount already opened for the request is joined.
 *
 * Read-your-writes across requests: the consistency token in the request header (default
 * `x-shard-consistency`) sets the WAL positions this request's reads must see; the response carries
 * the token back, advanced past this request's own commits. An RPC message carries it in the payload
 * field of the same name (see `openMessageContext`).
 */
@Injectable()
export class ShardingInterceptor implements NestInterceptor {
  constructor(private readonly runtime: ShardingRuntime) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = httpPair(context);
    if (http !== undefined) {
      const frame = openRequestContext(this.runtime, http.request, http.response, callerOf(context));
      // Nest binds next.handle()'s deferred handler to the async context it is called in
      return currentFrame() === frame ? next.handle() : runInFrame(frame, () => next.handle());
    }
    if (currentFrame()?.scope.runtime === this.runtime) return next.handle();
    const frame = openMessageContext(this.runtime, context.getArgByIndex(0), callerOf(context));
    return runInFrame(frame, () => next.handle()).pipe(finalize(() => frame.scope.release()));
  }
}
