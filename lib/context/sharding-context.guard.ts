import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { currentFrame, enterFrame } from './context-store.js';
import { callerOf, httpPair, openMessageContext, openRequestContext } from './context-opening.js';
import { ShardingRuntime } from './sharding-runtime.js';

/**
 * Opens the routing context as a global guard (`context: { mount: 'guard' }`): before pipes,
 * interceptors and the handler, and before the guards registered after it — a guard that loads the
 * user with a `@ShardBy` service call shares the request's forks. Never refuses a request.
 *
 * With `context: { mount: 'middleware' }` it is registered too, for what middleware does not reach:
 * RPC and WebSocket handlers get their context here, and an HTTP request whose context the middleware
 * opened is made current again if body parsing lost it (Fastify reads the body after its middleware).
 *
 * A guard cannot wrap what runs after it, so the context is entered with `AsyncLocalStorage.enterWith`;
 * an HTTP request's context closes with its response. An RPC message's context is let go by the
 * garbage collector (no end of the handler is visible to a guard): prefer the interceptor mount for
 * RPC-heavy applications.
 */
@Injectable()
export class ShardingContextGuard implements CanActivate {
  constructor(private readonly runtime: ShardingRuntime) {}

  canActivate(context: ExecutionContext): boolean {
    const http = httpPair(context);
    const frame =
      http !== undefined
        ? openRequestContext(this.runtime, http.request, http.response, callerOf(context))
        : openMessageContext(this.runtime, context.getArgByIndex(0), callerOf(context));
    if (currentFrame() !== frame) enterFrame(frame);
    return true;
  }
}
