import type { BalancerName, ReplicaBalancer } from './replica-balancer.js';

/** Options of the `readReplicas` module option: how reads are spread and which replicas may serve them. */
export interface ReadReplicaOptions {
  /**
   * How reads are spread over a shard's eligible replicas: `round-robin`, `random`, `weighted`
   * (by each replica's `weight`), `least-busy` (fewest statements in flight) or your own function.
   * @default 'round-robin'
   */
  balancer?: BalancerName | ReplicaBalancer;
  /**
   * Share of replica-eligible reads served by the shard's acting primary (0–1), the rest by the balancer's
   * replica (e.g. `0.1`: 10 % primary, 90 % replicas, so the primary's cache stays warm). A primary that is
   * down takes none. A shard's own `primaryShare` overrides it. @default 0
   */
  primaryShare?: number;
  /** Replicas whose replay lag (seen by the health monitor) is over this are skipped. @default no limit */
  maxLagMs?: number;
  /**
   * Read-your-writes by WAL position: after a commit on a shard's primary the context records the
   * primary's WAL position; later reads of that shard use a replica only once it has replayed that far
   * (else the primary). The positions travel between requests as a consistency token in
   * `consistencyHeader`. With `false`, reads after a write in the same context go to the primary and
   * no token is kept (one round trip less per write). @default true
   */
  readYourWrites?: boolean;
  /**
   * Monotonic reads for a session that passes its consistency token along: after every read outside a
   * transaction (on a replica: its replay position; on a primary: its WAL position) and every commit, the
   * context records the position it read at, so the token makes the session's later reads see at least
   * that state, never an older one (e.g. from another, more lagging replica). Costs one more statement per
   * read. Needs `readYourWrites`. @default false
   */
  monotonicReads?: boolean;
  /** HTTP header carrying the consistency token, in requests and responses. @default 'x-shard-consistency' */
  consistencyHeader?: string;
  /**
   * With no eligible replica: read from the primary, or fail with `ShardUnavailableError`.
   * @default 'primary'
   */
  whenNoReplica?: 'primary' | 'fail';
}
