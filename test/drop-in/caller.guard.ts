import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ShardingService } from '../../lib/index.js';
import { User, UserRepository } from './entities.js';

/**
 * Loads the caller (header `x-user`) from the database and lets only a registered user through.
 * Changed for sharding: the lookup runs in `shardingService.run({ key })`, routed by the caller's id
 * (a `@ShardBy` on `canActivate` would turn a missing header into a key error before the 403 below).
 */
@Injectable()
export class CallerGuard implements CanActivate {
  constructor(
    private readonly users: UserRepository,
    private readonly sharding: ShardingService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string>; caller?: User }>();
    const id = request.headers['x-user'];
    if (!id) return false;
    const caller = await this.sharding.run({ key: id }, () => this.users.findOne(id));
    if (!caller) return false;
    request.caller = caller;
    return true;
  }
}
