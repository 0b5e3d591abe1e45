import type { ForkOptions } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { NodeControlConnection } from './node-control-connection.js';
import type { NodeHealth } from './node-health.js';

/** A node's role in its shard. */
export type NodeRole = 'primary' | 'replica';

/** One PostgreSQL server of the topology, with its own MikroORM instance and connection pool. */
export interface ShardNode {
  /** `s0/primary`, `s0/replica-1`, ... unique, stable, safe to log. */
  readonly id: string;
  readonly shard: string;
  /** The configured role; the role it plays now (after a promotion) is `health.role`. */
  readonly role: NodeRole;
  /** 0 for the primary; the replica's position in `replicas` for a replica. */
  readonly index: number;
  /** `postgresql://user@host:port/db`: the address without any password. */
  readonly address: string;
  /** Share of reads for the `weighted` balancer (replicas). */
  readonly weight: number;
  /** Live state: up/down, current role, WAL position, lag, counters. */
  readonly health: NodeHealth;
  /** This node's MikroORM. Its global `em` is not for direct use: call `fork()`. */
  readonly orm: MikroORM;
  /** A connection of its own, beside the pool, for health checks and probes. */
  readonly control: NodeControlConnection;
  /**
   * A fresh EntityManager fork on this node (own identity map and unit of work), never resolved to
   * another context; `options` adds MikroORM fork options (e.g. an abort `signal`).
   */
  fork(options?: ForkOptions): EntityManager;
}
