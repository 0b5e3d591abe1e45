import { ShardingError } from './sharding.error.js';

/** A write was attempted inside a `@ReadReplica()` call; it was stopped before reaching any server. */
export class ReadOnlyContextError extends ShardingError {}
