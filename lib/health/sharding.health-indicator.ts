import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { NodeRegistry } from '../topology/node-registry.js';

/**
 * A `@nestjs/terminus` health indicator over every node of the topology (from the background monitor,
 * no extra query): `up` when every node is up; `degraded` (still HTTP 200) when replicas are down but
 * every shard's primary answers; `down` (HTTP 503) when a shard's primary is down. Each node is listed
 * with its status, role, lag and WAL position; addresses carry no password.
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

  isHealthy<const Key extends string>(key: Key) {
    const report = this.registry.health();
    const nodes = Object.fromEntries(
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
    const session = this.indicators.check(key);
    if (report.some((n) => n.role === 'primary' && n.status === 'down')) return session.down({ nodes });
    if (report.some((n) => n.status === 'down')) return session.degraded({ nodes });
    return session.up({ nodes });
  }
}
