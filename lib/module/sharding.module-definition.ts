import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ShardingModuleOptions } from './sharding-options.interface.js';

export const {
  ConfigurableModuleClass: ConfigurableShardingModule,
  MODULE_OPTIONS_TOKEN: SHARDING_MODULE_OPTIONS,
  OPTIONS_TYPE: SHARDING_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: SHARDING_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ShardingModuleOptions>({ moduleName: 'Sharding' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createShardingOptions')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
