import { ShardingError } from './sharding.error.js';
import type { ShardMigrationResult } from '../schema/migration.types.js';

/**
 * A migration run did not complete on every shard: the canary failed (no other shard was touched), a
 * shard's migration failed (that shard stays at its previous version, the others keep theirs), or a
 * shard's lock or replicas could not be had in time. `results` has one entry per shard: what was
 * applied there and, for a failed shard, the migration and the server's message. Run `up()` again
 * once fixed: each shard applies only what it still lacks.
 */
export class MigrationError extends ShardingError {
  constructor(
    message: string,
    readonly results: readonly ShardMigrationResult[],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
