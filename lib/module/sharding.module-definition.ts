import {
  ConfigurableModuleBuilder,
  Inject,
  Optional,
  RequestMethod,
  type MiddlewareConsumer,
  type NestModule,
  type Provider,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, HttpAdapterHost } from '@nestjs/core';
import { resolveContextMount, type ContextMount, type ShardingContextOptions } from '../context/context-mount.js';
import { ShardingContextGuard } from '../context/sharding-context.guard.js';
import { ShardingInterceptor } from '../context/sharding.interceptor.js';
import { ShardingMiddleware } from '../context/sharding.middleware.js';
import type { ShardingModuleOptions } from './sharding-options.interface.js';

/** Options that shape the module's definition (static: also beside `useFactory` in `forRootAsync`). */
export interface ShardingModuleExtras {
  /** Register the module globally. @default true */
  isGlobal: boolean;
  /** @deprecated `interceptor: false` is `context: { mount: 'none' }`. @default true */
  interceptor: boolean;
  /** Where each request's routing context opens. @default { mount: 'interceptor' } */
  context: ShardingContextOptions;
}

const SHARDING_CONTEXT_MOUNT = Symbol('nestjs-mikro-orm-sharding:context-mount');

/** The app-wide enhancers of a mount (the middleware is mounted in `configure`). */
const ENHANCERS: Record<ContextMount, Provider[]> = {
  interceptor: [{ provide: APP_INTERCEPTOR, useExisting: ShardingInterceptor }],
  guard: [{ provide: APP_GUARD, useExisting: ShardingContextGuard }],
  // the guard for RPC/WebSocket handlers, which no middleware reaches (a guard costs far less than an
  // interceptor on every HTTP request)
  middleware: [{ provide: APP_GUARD, useExisting: ShardingContextGuard }],
  none: [],
};

const {
  ConfigurableModuleClass,
  // the options as the user gave them; SHARDING_MODULE_OPTIONS (sharding.constants.ts) gives them resolved
  MODULE_OPTIONS_TOKEN: SHARDING_USER_OPTIONS,
  OPTIONS_TYPE: SHARDING_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: SHARDING_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ShardingModuleOptions>({ moduleName: 'Sharding' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createShardingOptions')
  .setExtras<ShardingModuleExtras>(
    { isGlobal: true, interceptor: true, context: {} },
    (definition, extras): typeof definition => {
      const mount = resolveContextMount(extras);
      return {
        ...definition,
        global: extras.isGlobal,
        providers: [
          ...(definition.providers ?? []),
          ShardingContextGuard,
          ...(mount === 'middleware' ? [ShardingMiddleware] : []),
          { provide: SHARDING_CONTEXT_MOUNT, useValue: mount },
          ...ENHANCERS[mount],
        ],
        exports: [...(definition.exports ?? []), ShardingContextGuard],
      };
    },
  )
  .build();

export { SHARDING_USER_OPTIONS, SHARDING_OPTIONS_TYPE, SHARDING_ASYNC_OPTIONS_TYPE };

/** The generated `forRoot`/`forRootAsync`, plus the middleware of `context: { mount: 'middleware' }`. */
export class ConfigurableShardingModule extends ConfigurableModuleClass implements NestModule {
  constructor(
    @Optional() @Inject(SHARDING_CONTEXT_MOUNT) private readonly contextMount?: ContextMount,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
    @Optional() private readonly middleware?: ShardingMiddleware,
  ) {
    super();
  }

  configure(consumer: MiddlewareConsumer): void {
    if (this.contextMount !== 'middleware') return;
    const adapter = this.adapterHost?.httpAdapter as { use?: (fn: unknown) => unknown } | undefined;
    const middleware = this.middleware;
    if (adapter?.use && middleware) {
      // straight on the server (Express, or Fastify's middie), before every route: Nest's middleware
      // proxy around it (path matching, an async wrapper per request) costs more than the context itself
      adapter.use((request: unknown, response: unknown, next: () => void) =>
        middleware.use(request as never, response as never, next),
      );
      return;
    }
    // no HTTP server yet (a microservice-only app, a test module): Nest's own mounting
    consumer.apply(ShardingMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}
