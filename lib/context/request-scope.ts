import type { EntityManager } from '@mikro-orm/postgresql';
import type { ShardNode } from '../topology/shard-node.js';
import type { ShardingRuntime } from './sharding-runtime.js';

/**
 * State shared by every routed call of one request (or one `ShardingService.run`, or one top-level
 * decorated call): the forks per node, so nested calls on a node join one identity map and unit of
 * work; the shards written, so later replica reads go to the primary; the shard lock.
 */
export class RequestScope {
  // Most scopes hold one fork, read one shard and write nowhere: the first entry is kept inline,
  // collections are made only for a second one.
  private firstForkNode: string | undefined;
  private firstFork: EntityManager | undefined;
  private forks: Map<string, EntityManager> | undefined;
  private firstReplicaShard: string | undefined;
  private firstReplica: ShardNode | undefined;
  private replicas: Map<string, ShardNode> | undefined;
  private written: Set<string> | undefined;
  lockedShard: string | undefined;

  constructor(
    readonly runtime: ShardingRuntime,
    readonly lockToOneShard: boolean,
  ) {}

  fork(nodeId: string): EntityManager | undefined {
    return this.firstForkNode === nodeId ? this.firstFork : this.forks?.get(nodeId);
  }

  keepFork(nodeId: string, em: EntityManager): void {
    if (this.firstForkNode === undefined) {
      this.firstForkNode = nodeId;
      this.firstFork = em;
    } else (this.forks ??= new Map()).set(nodeId, em);
  }

  /** The node this context reads the shard from, once chosen. */
  replica(shard: string): ShardNode | undefined {
    return this.firstReplicaShard === shard ? this.firstReplica : this.replicas?.get(shard);
  }

  keepReplica(shard: string, node: ShardNode): ShardNode {
    if (this.firstReplicaShard === undefined) {
      this.firstReplicaShard = shard;
      this.firstReplica = node;
    } else (this.replicas ??= new Map()).set(shard, node);
    return node;
  }

  markWritten(shard: string): void {
    (this.written ??= new Set()).add(shard);
  }

  wasWritten(shard: string): boolean {
    return this.written?.has(shard) ?? false;
  }
}

/** The routed call being executed: what `ShardedEntityManager` acts on. */
export interface CallFrame {
  readonly scope: RequestScope;
  /** `UsersService.findOne`, for error messages. */
  readonly caller: string;
  /** Absent on the root frame opened by the interceptor. */
  readonly shard?: string;
  readonly node?: ShardNode;
  readonly em?: EntityManager;
  /** Inside `@ReadReplica()` / a read-only run: writes are refused. */
  readonly readOnly: boolean;
}
