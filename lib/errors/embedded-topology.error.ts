import { ShardingError } from './sharding.error.js';

/**
 * An embedded PostgreSQL server of `startEmbeddedTopology()` failed to start or stop. The message
 * carries the end of that server's own log, which usually says why (port in use, disk full, ...).
 */
export class EmbeddedTopologyError extends ShardingError {}
