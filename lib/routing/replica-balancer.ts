import type { ShardNode } from '../topology/shard-node.js';

/** Picks one of a shard's eligible replicas for a read. */
export type ReplicaBalancer = (replicas: readonly ShardNode[], shard: string) => ShardNode;

/** Options of the `readReplicas` module option. */
export interface ReadReplicaOptions {
  /** How reads are spread over a shard's replicas. @default 'round-robin' */
  balancer?: 'round-robin' | ReplicaBalancer;
}

/** Each shard's replicas in turn. */
export function roundRobinBalancer(): ReplicaBalancer {
  const turns = new Map<string, number>();
  return (replicas, shard) => {
    const turn = turns.get(shard) ?? 0;
    turns.set(shard, turn + 1 >= 1_000_000_000 ? 0 : turn + 1);
    return replicas[turn % replicas.length];
  };
}

export function createBalancer(option: ReadReplicaOptions['balancer'] = 'round-robin'): ReplicaBalancer {
  return typeof option === 'function' ? option : roundRobinBalancer();
}
