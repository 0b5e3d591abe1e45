import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ShardingConfigError } from '../errors/sharding-config.error.js';
import { UnknownNodeError } from '../errors/unknown-node.error.js';
import { describeAddress, nodeAddress } from './node-address.js';
import { formatLsn } from './lsn.js';
import { NodeControlConnection } from './node-control-connection.js';
import { NodeConnection, nodePgOptions } from './node-driver.js';
import { NodeHealth, type NodeHealthReport } from './node-health.js';
import { createNodeOrms, type NodeQueryObserver, type ShardingMikroOrmOptions } from './node-orm.factory.js';
import { probeNode, type NodeProbe } from './node-probe.js';
import type { ShardsConfig } from './shard-config.js';
import type { NodeRole, ShardNode } from './shard-node.js';
import { findTopologyProblems } from './topology-validator.js';

/** A shard's nodes. */
export interface ShardNodes {
  readonly primary: ShardNode;
  readonly replicas: readonly ShardNode[];
}

/**
 * Every node of the topology and its MikroORM. Inject it to list nodes, reach one node's
 * EntityManager by shard and role, or probe the servers. Knows nothing about requests.
 */
export class NodeRegistry {
  private closing: Promise<void> | undefined;
  /** Shard names in configuration order (one frozen array: routing reads it on every call). */
  readonly shardNames: readonly string[];
  /** Each shard's nodes by the role they play now (the configured layout until a promotion). */
  private readonly actingNodes = new Map<string, ShardNodes>();

  private constructor(private readonly shardMap: ReadonlyMap<string, ShardNodes>) {
    this.shardNames = Object.freeze([...shardMap.keys()]);
    // frozen: routing hands these lists to balancers (user code) without copying them
    for (const [name, { primary, replicas }] of shardMap) {
      this.actingNodes.set(name, { primary, replicas: Object.freeze([...replicas]) });
    }
  }

  /**
   * Validates the topology (throwing one `ShardingConfigError` listing every problem) and creates
   * one MikroORM per node, entity metadata discovered once and shared. `observer` sees every SQL
   * statement before it is sent (and may refuse it by throwing).
   */
  static async create(
    options: { shards: ShardsConfig; mikroOrm: ShardingMikroOrmOptions },
    observer?: NodeQueryObserver,
  ): Promise<NodeRegistry> {
    const problems = findTopologyProblems(options);
    if (problems.length) throw new ShardingConfigError(problems);
    const layout = Object.entries(options.shards).flatMap(([shard, config]) => [
      {
        id: `${shard}/primary`,
        shard,
        role: 'primary' as const,
        index: 0,
        connection: config.primary,
        weight: 1,
        health: new NodeHealth('primary'),
      },
      ...(config.replicas ?? []).map(({ weight, ...connection }, index) => ({
        id: `${shard}/replica-${index + 1}`,
        shard,
        role: 'replica' as const,
        index,
        connection,
        weight: weight ?? 1,
        health: new NodeHealth('replica'),
      })),
    ]);
    const orms = await createNodeOrms(layout, options.mikroOrm, observer);
    const shardMap = new Map<string, { primary?: ShardNode; replicas: ShardNode[] }>();
    layout.forEach(({ connection, ...spec }, i) => {
      const node = createShardNode(spec, describeAddress(nodeAddress(connection)), orms[i]);
      const entry = shardMap.get(spec.shard) ?? { replicas: [] };
      if (spec.role === 'primary') entry.primary = node;
      else entry.replicas.push(node);
      shardMap.set(spec.shard, entry);
    });
    return new NodeRegistry(shardMap as Map<string, ShardNodes>);
  }

  /** Every node: each shard's primary then its replicas. */
  get nodes(): ShardNode[] {
    return [...this.shardMap.values()].flatMap(({ primary, replicas }) => [primary, ...replicas]);
  }

  /**
   * A shard's nodes as the configuration lists them, whatever they do now (where the topology started);
   * `UnknownNodeError` for a name that is not configured. To reach a shard's primary, use `acting()`.
   */
  configured(name: string): ShardNodes {
    const nodes = this.shardMap.get(name);
    if (!nodes) throw UnknownNodeError.shard(name, this.shardNames);
    return nodes;
  }

  /**
   * A shard's nodes by the role they play now: after a replica was promoted (and the monitor saw it),
   * `primary` is that node and the old primary is left out of `replicas`. Routing, schema changes and
   * waits for replicas use this.
   */
  acting(name: string): ShardNodes {
    const nodes = this.actingNodes.get(name);
    if (!nodes) throw UnknownNodeError.shard(name, this.shardNames);
    return nodes;
  }

  /** @deprecated `configured()`: the name did not say which layout it returns. */
  shard(name: string): ShardNodes {
    return this.configured(name);
  }

  /** @deprecated `acting()`. */
  current(name: string): ShardNodes {
    return this.acting(name);
  }

  /**
   * Makes `primary` the shard's acting primary (primary discovery calls this when a replica was promoted).
   * The other nodes become replicas; those that are not in recovery (a diverged old primary) serve nothing.
   */
  setActingPrimary(shard: string, primary: ShardNode): void {
    const { primary: configured, replicas } = this.configured(shard);
    const others = [configured, ...replicas].filter((node) => node !== primary);
    primary.health.role = 'primary';
    for (const node of others) node.health.role = 'replica';
    this.actingNodes.set(shard, {
      primary,
      replicas: Object.freeze(others.filter((node) => node.health.inRecovery !== false)),
    });
  }

  /** Every node's state, role, lag and counters (no passwords): the data behind health endpoints. */
  health(): NodeHealthReport[] {
    const iso = (ms: number) => (ms ? new Date(ms).toISOString() : undefined);
    return this.nodes.map(({ id, shard, address, health, orm }) => ({
      id,
      shard,
      configuredRole: health.configuredRole,
      role: health.role,
      status: health.status,
      address,
      lagMs: health.lagMs,
      lsn: health.lsn === undefined ? undefined : formatLsn(health.lsn),
      checkedAt: iso(health.checkedAt),
      downSince: iso(health.downSince),
      error: health.error,
      inFlight: health.inFlight,
      counters: { ...health.counters },
      pool: poolCounts(orm),
      preparedTransactions: health.preparedTransactions,
    }));
  }

  /**
   * One node by the role it plays now: the shard's acting primary, or its acting replica number `index`
   * (0-based, in configuration order, the promoted one left out). `configured(shard)` has the layout as
   * configured.
   */
  node(shard: string, role: NodeRole = 'primary', index = 0): ShardNode {
    const { primary, replicas } = this.acting(shard);
    if (role === 'primary') return primary;
    const replica = replicas[index];
    if (!replica) throw UnknownNodeError.replica(shard, index, replicas.length);
    return replica;
  }

  /** A fresh EntityManager fork on one node, chosen as `node()` does (the acting primary by default). */
  fork(shard: string, role: NodeRole = 'primary', index = 0): EntityManager {
    return this.node(shard, role, index).fork();
  }

  /** Asks every node, in parallel, what it is: port, recovery, streaming, or why it did not answer. */
  probe(options: { timeoutMs?: number } = {}): Promise<NodeProbe[]> {
    return Promise.all(this.nodes.map((node) => probeNode(node, options.timeoutMs ?? 2_000)));
  }

  /** Closes every node's pool. Called on application shutdown; safe to call twice. */
  close(): Promise<void> {
    this.closing ??= Promise.all(this.nodes.flatMap((node) => [node.orm.close(true), node.control.close()])).then(
      () => undefined,
    );
    return this.closing;
  }

  /** Nest lifecycle hook. */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}

function poolCounts(orm: MikroORM): NodeHealthReport['pool'] {
  const connection = orm.em.getConnection();
  const pool = connection instanceof NodeConnection ? connection.pool : undefined;
  return pool && { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
}

// the node's own EntityManager, whatever context another ORM or RequestContext has open (one options
// object for every fork: this runs on every routed call)
const OWN_FORK = { clear: true, disableContextResolution: true } as const;

function createShardNode(
  spec: Omit<ShardNode, 'orm' | 'fork' | 'address' | 'control'>,
  address: string,
  orm: MikroORM,
): ShardNode {
  const connection = orm.em.getConnection();
  // connect exactly as the node's pool does (ssl, stream, keepAlive, options...)
  const options = nodePgOptions(connection);
  return {
    ...spec,
    address,
    orm,
    control: new NodeControlConnection(options),
    fork: (options) => orm.em.fork(options ? { ...options, ...OWN_FORK } : OWN_FORK),
  };
}
