// Module
export { ShardingModule } from './module/sharding.module.js';
export { SHARDING_MODULE_OPTIONS } from './module/sharding.module-definition.js';
export type { ShardingModuleOptions } from './module/sharding-options.interface.js';

// Topology
export { NodeRegistry } from './topology/node-registry.js';
export type { ShardNodes } from './topology/node-registry.js';
export type { ShardNode, NodeRole } from './topology/shard-node.js';
export type { NodeProbe } from './topology/node-probe.js';
export type { ShardingMikroOrmOptions } from './topology/node-orm.factory.js';
export type {
  NodeConnectionConfig,
  NodeFieldsConfig,
  NodeUrlConfig,
  ReplicaConfig,
  ShardConfig,
  ShardsConfig,
} from './topology/shard-config.js';

// Replication and schema
export { waitForReplicas } from './replication/wait-for-replicas.js';
export type { WaitForReplicasOptions } from './replication/wait-for-replicas.js';
export { ShardingSchema } from './schema/sharding-schema.js';
export type { SchemaSyncOptions } from './schema/sharding-schema.js';

// Errors
export { ShardingError } from './errors/sharding.error.js';
export { ShardingConfigError } from './errors/sharding-config.error.js';
export { UnknownNodeError } from './errors/unknown-node.error.js';
export { ReplicationTimeoutError } from './errors/replication-timeout.error.js';
export { EmbeddedTopologyError } from './errors/embedded-topology.error.js';
