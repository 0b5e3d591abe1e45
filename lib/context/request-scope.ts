import type { EntityManager } from '@mikro-orm/postgresql';
import type { ShardNode } from '../topology/shard-node.js';
import type { ShardingRuntime } from './sharding-runtime.js';

/**
 * State shared by every routed call of one request (or one `ShardingService.run`, or one top-level
 * decorated call): the forks per node, so nested calls on a node join one identity map and unit of
 * work; the shards written, so later replica reads go to the primary; the shard lock.
 */
export class RequestScope {
  // created on first use: most scopes hold one fork and write nowhere
  private forks: Map<string, EntityManager> | undefined;
  private written: Set<string> | undefined;
  private replicas: Map<string, ShardNode> | undefined;
  lockedShard: string | undefined;

  constructor(
    readonly runtime: ShardingRuntime,
    readonly lockToOneShard: boolean,
  ) {}

  fork(nodeId: string): EntityManager | undefined {
    return this.forks?.get(nodeId);
  }

  keepFork(nodeId: string, em: EntityManager): void {
    (this.forks ??= new Map()).set(nodeId, em);
  }

  /** The node this context reads the shard from, once chosen. */
  replica(shard: string): ShardNode | undefined {
    return this.replicas?.get(shard);
  }

  keepReplica(shard: string, node: ShardNode): ShardNode {
    (this.replicas ??= new Map()).set(shard, node);
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
