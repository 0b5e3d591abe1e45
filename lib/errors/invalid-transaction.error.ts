import { ShardingError } from './sharding.error.js';

/**
 * A cross-shard transaction used in a way that cannot work: nested inside another one (or inside an
 * ordinary transaction), a callback that is not async, a method decorated with
 * `@CrossShardTransaction()` that is synchronous, or a routed call joining a transaction that has already
 * finished. Nothing was sent.
 */
export class InvalidTransactionError extends ShardingError {}
