import { ShardingError } from './sharding.error.js';

/**
 * A flush would have written an entity to a shard its own key does not map to (a row on the wrong shard,
 * invisible to later routed reads). Nothing was sent. Create or move the entity in a call routed by its
 * own key (`@ShardBy` on that key, `run({ key })`), or fix the key.
 */
export class MisplacedEntityError extends ShardingError {
  constructor(
    message: string,
    readonly entity: string,
    /** The shard the entity's key maps to. */
    readonly keyShard: string,
    /** The shard the flush was about to write to. */
    readonly flushShard: string,
  ) {
    super(message);
  }
}
