import { ShardingError } from './sharding.error.js';

/**
 * The `ShardingModule` options describe an impossible topology. Thrown once at start-up with
 * **every** problem found, so a user fixes them all in one go.
 */
export class ShardingConfigError extends ShardingError {
  constructor(readonly problems: readonly string[]) {
    super(
      `Invalid ShardingModule configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
}
