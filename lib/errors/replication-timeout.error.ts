import { ShardingError } from './sharding.error.js';

/** A replica did not replay its primary's WAL up to the awaited position in time. */
export class ReplicationTimeoutError extends ShardingError {}
