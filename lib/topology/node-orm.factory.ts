import type { MetadataStorage } from '@mikro-orm/core';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { LIBRARY_TABLES } from './library-tables.js';
import { NodeDriver } from './node-driver.js';
import type { NodeHealth } from './node-health.js';
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
  shard: string;
  role: 'primary' | 'replica';
  connection: NodeConnectionConfig;
  health: NodeHealth;
}

/**
 * Sees every SQL statement a node is about to send (after the user's own `onQuery`); may throw to
 * stop it. The topology knows nothing of requests: the module plugs its write guard in here.
 */
export type NodeQueryObserver = (node: ObservedNode, sql: string) => void;

/** The node a statement goes to, as an observer sees it. */
export interface ObservedNode {
  id: string;
  shard: string;
  /** Its live state; `health.role` is the role it plays now. */
  health: NodeHealth;
}

let registries = 0;

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
  observer?: NodeQueryObserver,
): Promise<MikroORM[]> {
  const [first, ...rest] = specs;
  const prefix = `sharding${++registries}`; // two applications in one process never share a context name
  const discovering = await MikroORM.init(nodeOptions(first, shared, prefix, observer));
  const metadata = discovering.getMetadata();
  const reusing = await Promise.all(
    rest.map((spec) => MikroORM.init(reusingOptions(nodeOptions(spec, shared, prefix, observer), metadata))),
  );
  return [discovering, ...reusing];
}

function nodeOptions(
  spec: NodeOrmSpec,
  shared: ShardingMikroOrmOptions,
  prefix: string,
  observer?: NodeQueryObserver,
): Options {
  const userOnQuery = shared.onQuery;
  const node: ObservedNode = { id: spec.id, shard: spec.shard, health: spec.health };
  return {
    ...shared,
    ...spec.connection,
    // A context name of its own: a RequestContext or transaction opened by other code (e.g.
    // @mikro-orm/nestjs, another application) for another name is never mistaken for this node's.
    contextName: `${prefix}:${spec.id}`,
    // MikroORM's driver on a connection that never leaks a pool connection (see NodeConnection)
    driver: NodeDriver,
    // schema.update() drops every table that is not an entity: the library's own must survive it
    schemaGenerator: {
      ...shared.schemaGenerator,
      skipTables: [...(shared.schemaGenerator?.skipTables ?? []), ...Object.values(LIBRARY_TABLES)],
    },
    // One migration set for every shard: `create()` diffs against a live shard (the canary), not a
    // snapshot file, and runs on many shards at once never race to rewrite one snapshot file.
    // (MikroORM's Migrator extension is loaded by MikroORM.init when @mikro-orm/migrations is installed.)
    migrations: { snapshot: false, ...shared.migrations },
    onQuery: (sql, params) => {
      const final = userOnQuery ? userOnQuery(sql, params) : sql;
      observer?.(node, final);
      return final;
    },
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
