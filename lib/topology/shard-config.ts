/** A node given as a PostgreSQL connection URL, e.g. `postgresql://app:secret@db0:5432/app`. */
export interface NodeUrlConfig {
  clientUrl: string;
}

/** A node given field by field. */
export interface NodeFieldsConfig {
  host: string;
  port: number;
  user?: string;
  password?: string;
  dbName: string;
}

/** How to reach one PostgreSQL server: a URL or separate fields. */
export type NodeConnectionConfig = NodeUrlConfig | NodeFieldsConfig;

/** A streaming replica. `weight` is used by the `weighted` balancer. */
export type ReplicaConfig = NodeConnectionConfig & {
  /** Relative share of reads for the `weighted` balancer. @default 1 */
  weight?: number;
};

/** One shard: the primary that takes writes and the replicas that serve reads. */
export interface ShardConfig {
  primary: NodeConnectionConfig;
  replicas?: ReplicaConfig[];
  /** This shard's `readReplicas.primaryShare` (0–1). */
  primaryShare?: number;
}

/** The whole topology: shard name → its nodes. */
export type ShardsConfig = Record<string, ShardConfig>;
