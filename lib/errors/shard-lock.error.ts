import { ShardingError } from './sharding.error.js';

/** A request locked to one shard tried to use a second one. */
export class ShardLockError extends ShardingError {}
