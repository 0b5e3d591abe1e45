import { ShardingConfigError } from '../errors/sharding-config.error.js';

/**
 * Where the module opens the routing context of an HTTP request (or GraphQL operation, or RPC message):
 * - `'interceptor'` — a global `ShardingInterceptor`: HTTP, GraphQL, RPC and WebSocket handlers;
 *   guards and pipes run before it, outside the context.
 * - `'middleware'` — `ShardingMiddleware` on every route (Express and Fastify, GraphQL endpoints too):
 *   middleware mounted after it, guards, pipes, interceptors and the handler share one context. RPC and
 *   WebSocket handlers (no middleware runs there) get theirs from `ShardingContextGuard`.
 * - `'guard'` — a global `ShardingContextGuard`: opened before the other global guards' successors,
 *   pipes and interceptors (and for RPC/WebSocket handlers too).
 * - `'none'` — nothing is mounted: each top-level routed call opens its own context (the old
 *   `interceptor: false`); `ShardingService.run()`/`withContext()` still open shared ones.
 */
export type ContextMount = 'middleware' | 'interceptor' | 'guard' | 'none';

/** The `context` option of `ShardingModule.forRoot()` / `forRootAsync()`. */
export interface ShardingContextOptions {
  /**
   * Where the request context opens (see {@link ContextMount}). Static: it decides which providers and
   * middleware the module registers, so with `forRootAsync` it sits beside `useFactory`, not in what
   * the factory returns.
   * @default 'interceptor'
   */
  mount?: ContextMount;
}

/** The defaults of the `context` option: the only place they are written. */
export const CONTEXT_DEFAULTS: Required<ShardingContextOptions> = { mount: 'interceptor' };

const MOUNTS: readonly ContextMount[] = ['middleware', 'interceptor', 'guard', 'none'];

/**
 * The mount the module registers, from the `context` option and the older `interceptor` extra
 * (`interceptor: false` is `context: { mount: 'none' }`). `ShardingConfigError` for an unknown mount or
 * for the two options contradicting each other.
 */
export function resolveContextMount(extras: { interceptor?: boolean; context?: ShardingContextOptions }): ContextMount {
  const asked = extras.context?.mount;
  if (asked !== undefined && !MOUNTS.includes(asked)) {
    throw new ShardingConfigError([
      `context.mount is ${JSON.stringify(asked)}; use one of ${MOUNTS.map((m) => `'${m}'`).join(', ')}.`,
    ]);
  }
  if (extras.interceptor === false) {
    if (asked !== undefined && asked !== 'none') {
      throw new ShardingConfigError([
        `interceptor: false (the older name of context: { mount: 'none' }) contradicts context: { mount: '${asked}' }; ` +
          'remove `interceptor` and keep `context.mount`.',
      ]);
    }
    return 'none';
  }
  return asked ?? CONTEXT_DEFAULTS.mount;
}
