import { resolve } from 'node:path';
import type { ShardsConfig } from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';

/** The nodes of docker-compose.yml (see its header). */
export const COMPOSE_SHARDS: ShardsConfig = {
  s0: {
    primary: { clientUrl: 'postgresql://app:app@127.0.0.1:5440/app' },
    replicas: [{ clientUrl: 'postgresql://app:app@127.0.0.1:5441/app' }],
  },
  s1: {
    primary: { clientUrl: 'postgresql://app:app@127.0.0.1:5442/app' },
    replicas: [{ clientUrl: 'postgresql://app:app@127.0.0.1:5443/app' }],
  },
};

/** Where the sample app's nodes come from, and the embedded servers to stop on exit (if any). */
export interface SampleTopology {
  shards: ShardsConfig;
  source: string;
  embedded?: EmbeddedTopology;
}

/**
 * `SHARDING_SHARDS` (JSON in the `shards` format) names external nodes; `SHARDING_TOPOLOGY=compose`
 * uses docker-compose.yml's; otherwise an embedded 2 × (primary + replica) topology starts, with its
 * data kept in `SHARDING_DATA_DIR` (default `.data/embedded`).
 */
export async function topologyFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<SampleTopology> {
  if (env.SHARDING_SHARDS) {
    try {
      return { shards: JSON.parse(env.SHARDING_SHARDS) as ShardsConfig, source: 'SHARDING_SHARDS' };
    } catch (error) {
      throw new Error(
        `SHARDING_SHARDS is not valid JSON (${(error as Error).message}); see docker-compose.yml for an example.`,
        {
          cause: error,
        },
      );
    }
  }
  if (env.SHARDING_TOPOLOGY === 'compose') return { shards: COMPOSE_SHARDS, source: 'docker-compose.yml' };
  const dataDir = resolve(env.SHARDING_DATA_DIR ?? '.data/embedded');
  const embedded = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1, dataDir, fast: false });
  return { shards: embedded.shards, source: `embedded PostgreSQL in ${dataDir}`, embedded };
}
