import { ShardingError } from './sharding.error.js';

/** `ShardedEntityManager` was used where no routed call chose a node. */
export class NoShardContextError extends ShardingError {
  static forMember(member: string): NoShardContextError {
    return new NoShardContextError(
      `ShardedEntityManager.${member} was used outside a routed call, so no shard or node is chosen. ` +
        "Decorate the calling method with @ShardBy('<key parameter>') (add @ReadReplica() for reads, @UsePrimary() to force the primary), " +
        'or wrap the code in shardingService.run({ shard } | { key }, fn).',
    );
  }
}
