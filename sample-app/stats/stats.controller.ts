import { Controller, Get } from '@nestjs/common';
import { UsersDirectory } from '../users/users-directory.service.js';

/** Totals across every shard. */
@Controller('stats')
export class StatsController {
  constructor(private readonly directory: UsersDirectory) {}

  /** `{ users, orders, orderTotalCents }`, counted and summed on each shard and merged. */
  @Get()
  stats() {
    return this.directory.stats();
  }
}
