import type { ShardingModuleOptions } from '../module/sharding-options.interface.js';

/**
 * Types a CLI config file (`sharding.config.js` / `.mjs`): returns its argument unchanged. The file's
 * default export is what `ShardingModule.forRoot()` takes; the CLI boots the module with it.
 *
 * @example
 * // sharding.config.mjs
 * export default defineShardingConfig({ shards: { ... }, mikroOrm: { entities: [User] }, migrations: { path: 'migrations' } });
 */
export function defineShardingConfig(options: ShardingModuleOptions): ShardingModuleOptions {
  return options;
}
