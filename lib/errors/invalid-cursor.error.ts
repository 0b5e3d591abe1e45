import { ShardingError } from './sharding.error.js';

/**
 * A cursor given to `CrossShardQuery.findByCursor()` that this query did not issue: malformed,
 * altered, signed with another `cursorSecret`, or made for another entity, `orderBy` or `where`.
 */
export class InvalidCursorError extends ShardingError {}
