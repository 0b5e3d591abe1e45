import { Injectable, type NestMiddleware } from '@nestjs/common';
import { runInFrame } from './context-store.js';
import { openRequestContext, type RawRequest, type RawResponse } from './context-opening.js';
import { ShardingRuntime } from './sharding-runtime.js';

/**
 * Opens the routing context of each HTTP request as the first thing Nest runs for it
 * (`context: { mount: 'middleware' }` mounts it on every route, on Express and Fastify): middleware
 * mounted after it, guards, pipes, interceptors and the handler share one context. The consistency
 * token is read from the request header and set on the response whenever a commit records a position;
 * the context closes with the response. Mount it yourself with
 * `consumer.apply(ShardingMiddleware).forRoutes(...)` for a part of the routes.
 */
@Injectable()
export class ShardingMiddleware implements NestMiddleware {
  constructor(private readonly runtime: ShardingRuntime) {}

  use(request: RawRequest, response: RawResponse, next: () => void): void {
    runInFrame(openRequestContext(this.runtime, request, response, 'ShardingMiddleware'), next);
  }
}
