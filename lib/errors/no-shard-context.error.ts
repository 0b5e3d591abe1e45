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

  /** A routed method called on an instance no ShardingModule bound, outside any routing context. */
  static forUnboundCall(caller: string): NoShardContextError {
    const type = caller.slice(0, caller.lastIndexOf('.')) || caller;
    return new NoShardContextError(
      `${caller} is a routed method, but this ${type} instance belongs to no open application with a ShardingModule, ` +
        'and the call runs outside any routing context, so its shards are unknown. Let Nest provide ' +
        `${type} (a provider or controller of an application that imports ShardingModule; it is bound to that ` +
        'module while the application is open), or call it inside shardingService.run(...) / withContext(...). ' +
        'An object made with `new`, or one object provided to two applications, routes only inside such a context.',
    );
  }
}
