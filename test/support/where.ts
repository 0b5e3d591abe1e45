import type { EntityManager } from '@mikro-orm/postgresql';
import type { EmbeddedTopology } from '../../lib/testing/index.js';

/** What the server behind an EntityManager says about itself: the proof of routing. */
export interface ServerSide {
  port: number;
  recovery: boolean;
}

export async function whereAmI(em: Pick<EntityManager, 'execute'>): Promise<ServerSide> {
  const [row] = await em.execute<ServerSide[]>('select inet_server_port() as port, pg_is_in_recovery() as recovery');
  return row;
}

/** port → `s0/primary`, `s0/replica-1`, ... for the embedded topology. */
export function nodeByPort(topology: EmbeddedTopology): Map<number, string> {
  const replicaNumber = new Map<string, number>();
  return new Map(
    topology.servers.map((s) => {
      if (s.role === 'primary') return [s.port, `${s.shard}/primary`];
      const n = (replicaNumber.get(s.shard) ?? 0) + 1;
      replicaNumber.set(s.shard, n);
      return [s.port, `${s.shard}/replica-${n}`];
    }),
  );
}
