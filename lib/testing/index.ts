export { startEmbeddedTopology } from './embedded-topology.js';
export type { EmbeddedTopology, EmbeddedTopologyOptions } from './embedded-topology.js';
export { EmbeddedServer } from './embedded-server.js';
export type { EmbeddedRole } from './embedded-server.js';
export { EmbeddedTopologyError } from '../errors/embedded-topology.error.js';
