import type { MetadataStorage } from '@mikro-orm/core';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import type { NodeConnectionConfig } from './shard-config.js';

/** MikroORM options shared by every node: entities, naming, debug, pool... never connection details. */
export type ShardingMikroOrmOptions = Omit<
  Options,
  | 'clientUrl'
  | 'host'
  | 'port'
  | 'user'
  | 'password'
  | 'dbName'
  | 'replicas'
  | 'preferReadReplicas'
  | 'driver'
  | 'contextName'
>;

/** One node to build an ORM for. */
export interface NodeOrmSpec {
  id: string;
  connection: NodeConnectionConfig;
}

/**
 * Creates one MikroORM per node. Entity discovery runs once, for the first node; every other ORM
 * is initialised with no entities and, through MikroORM's `discovery.afterDiscovered` hook, receives
 * the very same `EntityMetadata` objects. So all nodes agree on one metadata (same object behind
 * `wrap(entity).__meta`, whichever node loaded the entity) and start-up does not grow with entities × nodes.
 * No connection is opened here: pools connect on first use.
 */
export async function createNodeOrms(
  specs: readonly NodeOrmSpec[],
  shared: ShardingMikroOrmOptions,
): Promise<MikroORM[]> {
  const [first, ...rest] = specs;
  const discovering = await MikroORM.init(nodeOptions(first, shared));
  const metadata = discovering.getMetadata();
  const reusing = await Promise.all(
    rest.map((spec) => MikroORM.init(reusingOptions(nodeOptions(spec, shared), metadata))),
  );
  return [discovering, ...reusing];
}

function nodeOptions(spec: NodeOrmSpec, shared: ShardingMikroOrmOptions): Options {
  return {
    ...shared,
    ...spec.connection,
    // A context name of its own: a RequestContext opened by other code (e.g. @mikro-orm/nestjs)
    // for the default name is never mistaken for this node's.
    contextName: `sharding:${spec.id}`,
  };
}

function reusingOptions(options: Options, metadata: MetadataStorage): Options {
  return {
    ...options,
    entities: [],
    entitiesTs: [],
    discovery: {
      ...options.discovery,
      warnWhenNoEntities: false,
      onMetadata: undefined,
      afterDiscovered: (storage: MetadataStorage) => {
        for (const meta of metadata) storage.set(meta.class, meta);
      },
    },
  };
}
