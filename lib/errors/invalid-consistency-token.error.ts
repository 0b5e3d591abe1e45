import { ShardingError } from './sharding.error.js';

/** A consistency token (request header or `run()` option) that this library did not write. */
export class InvalidConsistencyTokenError extends ShardingError {}
