import { ConfigurableModuleBuilder, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ShardingInterceptor } from '../context/sharding.interceptor.js';
import type { ShardingModuleOptions } from './sharding-options.interface.js';

export const {
  ConfigurableModuleClass: ConfigurableShardingModule,
  // the options as the user gave them; SHARDING_MODULE_OPTIONS (sharding.constants.ts) gives them resolved
  MODULE_OPTIONS_TOKEN: SHARDING_USER_OPTIONS,
  OPTIONS_TYPE: SHARDING_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: SHARDING_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ShardingModuleOptions>({ moduleName: 'Sharding' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createShardingOptions')
  .setExtras({ isGlobal: true, interceptor: true }, (definition, extras): typeof definition => ({
    ...definition,
    global: extras.isGlobal,
    // one routing context per HTTP request / RPC message, app-wide
    providers: [
      ...(definition.providers ?? []),
      ...(extras.interceptor
        ? [{ provide: APP_INTERCEPTOR, useExisting: ShardingInterceptor } satisfies Provider]
        : []),
    ],
  }))
  .build();
