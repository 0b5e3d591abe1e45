import { ShardingError } from './sharding.error.js';

/** What MikroORM's method decorators call on `this.em` first: their misuse gets a hint of its own. */
const FROM_MIKRO_ORM_DECORATORS: Readonly<Record<string, string>> = {
  transactional: '@Transactional()',
  fork: '@CreateRequestContext() / @EnsureRequestContext()',
};

/** `ShardedEntityManager` was used where no routed call chose a node. */
export class NoShardContextError extends ShardingError {
  static forMember(member: string): NoShardContextError {
    const decorator = FROM_MIKRO_ORM_DECORATORS[member];
    return new NoShardContextError(
      `ShardedEntityManager.${member} was used outside a routed call, so no shard or node is chosen. ` +
        "Decorate the calling method with @ShardBy('<key parameter>') (add @ReadReplica() for reads, @UsePrimary() to force the primary), " +
        'or wrap the code in shardingService.run({ shard } | { key }, fn).' +
        (decorator
          ? ` If MikroORM's ${decorator} is on the method, write the routing decorator above it ` +
            "(@ShardBy('id') then @Transactional()): the route is chosen first, then the transaction or context opens on that node."
          : ''),
    );
  }
}
