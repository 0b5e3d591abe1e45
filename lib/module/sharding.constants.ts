/**
 * Injection token of the module's options with every default applied (`ResolvedShardingOptions`):
 * `@Inject(SHARDING_MODULE_OPTIONS) options: ResolvedShardingOptions`.
 */
export const SHARDING_MODULE_OPTIONS = Symbol('SHARDING_MODULE_OPTIONS');
