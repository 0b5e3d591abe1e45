import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { NodeHealthReport } from '../topology/node-health.js';
import { NodeRegistry } from '../topology/node-registry.js';

/** Options of {@link ShardingHealthIndicator.isHealthy}. */
export interface ShardingHealthOptions {
  /**
   * List every node with its address (no password), role, lag, WAL position and last error: operator
   * detail, for an endpoint that is not public. Without it each shard says only how its primary and
   * replicas are. @default false
   */
  nodes?: boolean;
}

/**
 * A `@nestjs/terminus` health indicator over every node of the topology (from the background monitor,
 * no extra query): `up` when every node is up; `degraded` (still HTTP 200) when replicas are down but
 * every shard's primary answers; `down` (HTTP 503) when a shard's primary is down. By default each
 * shard reports its primary's state and how many replicas are up; `{ nodes: true }` lists every node.
 *
 * @example
 * // providers: [ShardingHealthIndicator], imports: [TerminusModule]
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.sharding.isHealthy('shards')]); }
 */
@Injectable()
export class ShardingHealthIndicator {
  constructor(
    private readonly registry: NodeRegistry,
    private readonly indicators: HealthIndicatorService,
  ) {}

  isHealthy<const Key extends string>(key: Key, options: ShardingHealthOptions = {}) {
    const report = this.registry.health();
    const detail: Record<string, unknown> = options.nodes
      ? { nodes: nodeDetail(report) }
      : { shards: shardSummary(report) };
    const session = this.indicators.check(key);
    if (report.some((n) => n.role === 'primary' && n.status === 'down')) return session.down(detail);
    if (report.some((n) => n.status === 'down')) return session.degraded(detail);
    return session.up(detail);
  }
}

/** Per shard: its acting primary's state and its replicas up out of all. */
function shardSummary(report: NodeHealthReport[]) {
  const shards: Record<string, { primary: string; replicasUp: number; replicas: number }> = {};
  for (const node of report) {
    const shard = (shards[node.shard] ??= { primary: 'unknown', replicasUp: 0, replicas: 0 });
    if (node.role === 'primary') shard.primary = node.status;
    else {
      shard.replicas++;
      if (node.status === 'up') shard.replicasUp++;
    }
  }
  return shards;
}

function nodeDetail(report: NodeHealthReport[]) {
  return Object.fromEntries(
    report.map((n) => [
      n.id,
      {
        status: n.status,
        role: n.role,
        address: n.address,
        lagMs: n.lagMs,
        lsn: n.lsn,
        ...(n.role !== n.configuredRole && { configuredRole: n.configuredRole }),
        ...(n.error && { error: n.error }),
      },
    ]),
  );
}
