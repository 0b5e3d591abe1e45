import { ShardingError } from './sharding.error.js';

/** A strategy could not place a key: outside every range, an unknown shard name, a bad strategy setting. */
export class ShardRoutingError extends ShardingError {}
