import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { ShardingHealthIndicator } from '../../lib/health/index.js';

/** Whether `/health` lists every node (operator endpoints on) or each shard's summary. */
export const HEALTH_DETAIL = Symbol('HEALTH_DETAIL');

/**
 * `GET /health`: each shard's primary state and replicas up (503 when a shard's primary is down); with
 * the operator endpoints on, every node's state, role, address, lag and WAL position.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly sharding: ShardingHealthIndicator,
    @Inject(HEALTH_DETAIL) private readonly nodes: boolean,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.sharding.isHealthy('shards', { nodes: this.nodes })]);
  }
}
