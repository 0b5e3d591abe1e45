import type { ShardNode } from '../topology/shard-node.js';

/**
 * Picks one of a shard's eligible replicas for a read: never called with an empty list; the replicas
 * given are up, within `maxLagMs` and caught up with the caller's consistency token.
 */
export type ReplicaBalancer = (replicas: readonly ShardNode[], shard: string) => ShardNode;

/** The built-in balancers by name. */
export type BalancerName = 'round-robin' | 'random' | 'weighted' | 'least-busy';

export const BALANCER_NAMES: readonly BalancerName[] = ['round-robin', 'random', 'weighted', 'least-busy'];

/** Each shard's replicas in turn. */
export function roundRobinBalancer(): ReplicaBalancer {
  const turns = new Map<string, { next: number }>();
  return (replicas, shard) => {
    let turn = turns.get(shard);
    if (!turn) turns.set(shard, (turn = { next: 0 }));
    const current = turn.next;
    turn.next = current + 1 >= 1_000_000_000 ? 0 : current + 1;
    return replicas[current % replicas.length];
  };
}

/** A replica at random, each equally likely. */
export function randomBalancer(random: () => number = Math.random): ReplicaBalancer {
  return (replicas) => replicas[Math.min(replicas.length - 1, Math.floor(random() * replicas.length))];
}

/**
 * Replicas in proportion to their `weight` (smooth weighted round-robin, as nginx does: exact shares,
 * spread out rather than in bursts, and still right when a replica drops out of the eligible list).
 */
export function weightedBalancer(): ReplicaBalancer {
  const current = new Map<string, number>();
  return (replicas) => {
    let total = 0;
    let best = replicas[0];
    let bestScore = -Infinity;
    for (const replica of replicas) {
      const score = (current.get(replica.id) ?? 0) + replica.weight;
      current.set(replica.id, score);
      total += replica.weight;
      if (score > bestScore) {
        best = replica;
        bestScore = score;
      }
    }
    current.set(best.id, bestScore - total);
    return best;
  };
}

/** The replica with the fewest statements in flight; ties go round-robin. */
export function leastBusyBalancer(): ReplicaBalancer {
  const tieBreak = roundRobinBalancer();
  return (replicas, shard) => {
    let fewest = Infinity;
    for (const replica of replicas) fewest = Math.min(fewest, replica.health.inFlight);
    const idlest = replicas.filter((replica) => replica.health.inFlight === fewest);
    return idlest.length === 1 ? idlest[0] : tieBreak(idlest, shard);
  };
}

export function createBalancer(option: BalancerName | ReplicaBalancer = 'round-robin'): ReplicaBalancer {
  if (typeof option === 'function') return option;
  switch (option) {
    case 'random':
      return randomBalancer();
    case 'weighted':
      return weightedBalancer();
    case 'least-busy':
      return leastBusyBalancer();
    default:
      return roundRobinBalancer();
  }
}
