import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { ShardingHealthIndicator } from '../../lib/health/index.js';

/** `GET /health`: every node's state, role and lag (503 when a shard's primary is down). */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly sharding: ShardingHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.sharding.isHealthy('shards')]);
  }
}
