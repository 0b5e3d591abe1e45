import { ShardingError } from './sharding.error.js';

/**
 * A flush tried to change a reference entity (module option `referenceEntities`: a table copied on every
 * shard) outside `ReferenceTables.write()`: the copies would diverge. Nothing was sent.
 */
export class ReferenceWriteError extends ShardingError {
  constructor(
    message: string,
    readonly entity: string,
  ) {
    super(message);
  }
}
