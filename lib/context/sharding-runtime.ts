import type { EntityManager } from '@mikro-orm/postgresql';
import { FlushMode, type FlushEventArgs } from '@mikro-orm/core';
import { ReadOnlyContextError } from '../errors/read-only-context.error.js';
import type { ReplicaBalancer } from '../routing/replica-balancer.js';
import type { ShardKeyValue } from '../routing/shard-key.js';
import { resolveShard, type ShardStrategy } from '../routing/shard-strategy.js';
import type { NodeRegistry } from '../topology/node-registry.js';
import type { ShardNode } from '../topology/shard-node.js';
import { currentFrame, outsideContext } from './context-store.js';
import { RequestScope } from './request-scope.js';

/** Settings the runtime routes with (from the module options, defaults applied). */
export interface RuntimeSettings {
  strategy: ShardStrategy;
  balancer: ReplicaBalancer;
  lockRequestToOneShard: boolean;
}

const hasChanges = ({ uow }: FlushEventArgs) =>
  uow.getChangeSets().length > 0 || uow.getCollectionUpdates().length > 0 || uow.getExtraUpdates().size > 0;

/**
 * What routed calls need from one configured module: its nodes, strategy and balancer. Decorators
 * find it through the request context (or the instance's injected `ShardedEntityManager` /
 * `ShardingService`), never through a DI lookup at class-definition time.
 */
export class ShardingRuntime {
  /** Runtimes of the applications alive in this process; cleared on shutdown. */
  static readonly live = new Set<ShardingRuntime>();

  constructor(
    readonly registry: NodeRegistry,
    readonly settings: RuntimeSettings,
  ) {
    for (const node of registry.nodes) this.watchFlushes(node);
  }

  activate(): void {
    ShardingRuntime.live.add(this);
  }

  deactivate(): void {
    ShardingRuntime.live.delete(this);
  }

  /** Nest lifecycle hooks: only a started application is found by calls outside any context. */
  onApplicationBootstrap(): void {
    this.activate();
  }

  onModuleDestroy(): void {
    this.deactivate();
  }

  get shardNames(): readonly string[] {
    return this.registry.shardNames;
  }

  newScope(lockToOneShard = this.settings.lockRequestToOneShard): RequestScope {
    return new RequestScope(this, lockToOneShard);
  }

  /** The shard the strategy gives a key (checked to be a configured shard). */
  shardFor(key: ShardKeyValue): string | Promise<string> {
    const { strategy } = this.settings;
    // a directory lookup must not join the caller's context (fork, lock, read-only); AsyncLocalStorage.exit
    // is not free on Node 22, so only strategies that ask for it pay for it (and no closure otherwise)
    return strategy.isolated
      ? outsideContext(() => resolveShard(strategy, key, this.registry.shardNames))
      : resolveShard(strategy, key, this.registry.shardNames);
  }

  /** A replica of the shard chosen by the balancer, or undefined when the shard has none. */
  pickReplica(shard: string): ShardNode | undefined {
    const { replicas } = this.registry.shard(shard);
    return replicas.length ? this.settings.balancer(replicas, shard) : undefined;
  }

  /** The scope's fork on a node: made once, then joined by every call on that node. */
  forkFor(scope: RequestScope, node: ShardNode): EntityManager {
    let em = scope.fork(node.id);
    if (!em) {
      em = node.fork();
      // Reads from a replica never auto-flush: a dirty entity must not become an UPDATE on a standby.
      if (node.role === 'replica') em.setFlushMode(FlushMode.COMMIT);
      scope.keepFork(node.id, em);
    }
    return em;
  }

  /**
   * A flush with changes on a replica node, or inside a read-only call, is refused before any SQL is
   * sent (the SQL-level guard would stop it too, but only after the flush opened its transaction).
   */
  private watchFlushes(node: ShardNode): void {
    node.orm.em.getEventManager().registerSubscriber({
      onFlush: (args: FlushEventArgs) => {
        const frame = currentFrame();
        if (!hasChanges(args) || (node.role === 'primary' && !frame?.readOnly)) return;
        throw new ReadOnlyContextError(
          `${frame?.caller ?? 'A flush'} tried to write on ${node.role === 'replica' ? 'read replica ' : ''}${node.id} (${node.address})` +
            `${frame?.readOnly ? ' inside a read-only call' : ''}; nothing was sent. ` +
            'Writes go to the primary: remove @ReadReplica() from the method that writes, or call a @ShardBy/@UsePrimary method for the write.',
        );
      },
    });
  }
}
