import { ShardingError } from './sharding.error.js';

/**
 * A routing decorator is used in a way that cannot work (a key naming no parameter, a sync method,
 * contradicting decorators). Thrown when the class is defined, so the application fails at start.
 */
export class InvalidRouteError extends ShardingError {}
