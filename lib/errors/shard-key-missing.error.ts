import { ShardingError } from './sharding.error.js';

/** A routed call's shard key is missing, empty or of the wrong type. Never routed to a default shard. */
export class ShardKeyMissingError extends ShardingError {}
