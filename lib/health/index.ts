// `nestjs-mikro-orm-sharding/terminus`: needs the optional peer dependency @nestjs/terminus.
export { ShardingHealthIndicator } from './sharding.health-indicator.js';
export type { ShardingHealthOptions } from './sharding.health-indicator.js';
