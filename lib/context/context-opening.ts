import type { ExecutionContext } from '@nestjs/common';
import { callFrame, type CallFrame, type RequestScope } from './request-scope.js';
import type { ShardingRuntime } from './sharding-runtime.js';

/**
 * Opening and closing a request's routing context: shared by `ShardingMiddleware`,
 * `ShardingContextGuard` and `ShardingInterceptor`, so that whichever runs first opens the context and
 * the others join it (one frame per request, found on the request object, never guessed from the
 * current async context).
 */

const FRAME = Symbol('nestjs-mikro-orm-sharding:frame');
const SCOPE = Symbol('nestjs-mikro-orm-sharding:scope');

type HeaderBag = Record<string, string | string[] | undefined>;

/** A Node.js request (Express's is one; Fastify's is `request.raw`). */
export interface RawRequest {
  headers?: HeaderBag;
  [FRAME]?: CallFrame;
}

/** A Node.js `ServerResponse` (Express's is one; Fastify's is `reply.raw`). */
export interface RawResponse {
  setHeader(name: string, value: string): unknown;
  headersSent: boolean;
  on(event: 'close', listener: (this: RawResponse) => void): unknown;
  [SCOPE]?: RequestScope;
}

/** The frame opened for this request, if any. */
export function requestFrame(request: RawRequest): CallFrame | undefined {
  return request[FRAME];
}

/**
 * The request's routing context: the one already opened for it (by the middleware, the guard, or an
 * earlier resolver of the same GraphQL operation), else a new one — its reads see the consistency
 * token of the request header, the response gets the token as soon as a commit (or a read with
 * monotonic reads) records a position, whoever sends it later (the handler, an exception filter, a GraphQL server), and the context closes
 * when the response does.
 */
export function openRequestContext(
  runtime: ShardingRuntime,
  request: RawRequest,
  response: RawResponse | undefined,
  caller: string,
): CallFrame {
  const open = request[FRAME];
  if (open !== undefined && open.scope.runtime === runtime) return open;
  const { readYourWrites, consistencyHeader } = runtime.settings;
  let scope: RequestScope;
  if (readYourWrites) {
    const incoming = request.headers?.[consistencyHeader];
    const token = Array.isArray(incoming) ? incoming.join(',') : incoming;
    scope = token
      ? runtime.newScope(undefined, token, `${caller} (request header ${consistencyHeader})`, true)
      : runtime.newScope();
  } else scope = runtime.newScope();
  const frame = callFrame(scope, caller, false);
  request[FRAME] = frame;
  if (response !== undefined) {
    response[SCOPE] = scope;
    if (readYourWrites) scope.sendTokenTo(response, consistencyHeader);
    response.on('close', closeScope);
  }
  return frame;
}

/**
 * A message's routing context (RPC, WebSocket): its reads see the consistency token the payload
 * carries in the field named like the header (`x-shard-consistency` by default). The caller closes it.
 */
export function openMessageContext(runtime: ShardingRuntime, payload: unknown, caller: string): CallFrame {
  const { readYourWrites, consistencyHeader } = runtime.settings;
  const token =
    readYourWrites && typeof payload === 'object' && payload !== null
      ? (payload as Record<string, unknown>)[consistencyHeader]
      : undefined;
  const scope =
    typeof token === 'string' && token
      ? runtime.newScope(undefined, token, `${caller} (message field ${consistencyHeader})`, true)
      : runtime.newScope();
  return callFrame(scope, caller, false);
}

/** The request and response behind an HTTP handler or a GraphQL resolver (undefined for RPC/WebSocket). */
export function httpPair(
  context: ExecutionContext,
): { request: RawRequest; response: RawResponse | undefined } | undefined {
  const type = context.getType<string>();
  let request: (RawRequest & { raw?: RawRequest; res?: RawResponse }) | undefined;
  let response: (RawResponse & { raw?: RawResponse }) | undefined;
  if (type === 'http') {
    request = context.getArgByIndex(0);
    response = context.getArgByIndex(1);
  } else if (type === 'graphql') {
    // the GraphQL context: { req, reply } with Mercurius, { req, res } with Apollo
    const gql = context.getArgByIndex(2) as
      { req?: typeof request; request?: typeof request; reply?: typeof response; res?: typeof response } | undefined;
    request = gql?.req ?? gql?.request;
    response = gql?.reply ?? gql?.res ?? request?.res;
  }
  if (request === undefined || request === null) return undefined;
  return { request: request.raw ?? request, response: response?.raw ?? response };
}

/** `UsersController.findOne`, for error messages. */
export function callerOf(context: ExecutionContext): string {
  return `${context.getClass().name}.${context.getHandler().name}`;
}

function closeScope(this: RawResponse): void {
  this[SCOPE]?.close();
}
