import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { currentFrame, runInFrame } from './context-store.js';
import { ShardingRuntime } from './sharding-runtime.js';

/**
 * Opens one routing context per HTTP request or RPC message (registered globally by the module
 * unless `interceptor: false`): nested decorated calls in the request share forks, the shard lock and
 * the set of written shards. Works the same on Express and Fastify.
 */
@Injectable()
export class ShardingInterceptor implements NestInterceptor {
  constructor(private readonly runtime: ShardingRuntime) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (currentFrame()?.scope.runtime === this.runtime) return next.handle();
    const frame = {
      scope: this.runtime.newScope(),
      caller: `${context.getClass().name}.${context.getHandler().name}`,
      readOnly: false,
    };
    // Nest binds next.handle()'s deferred handler to the async context it is called in.
    return runInFrame(frame, () => next.handle());
  }
}
