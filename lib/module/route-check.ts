import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { unroutedShardKeyMethods } from '../decorators/routed-method.js';
import { InvalidRouteError } from '../errors/invalid-route.error.js';

/**
 * Checks at start what a decorator cannot check when its class is defined: a `@ShardKey()` parameter
 * on a method with no routing method decorator (parameter decorators run before method decorators,
 * so only the finished class tells). Every provider and controller of the application is looked at.
 */
@Injectable()
export class RouteCheck implements OnModuleInit {
  constructor(private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    const classes = new Set<abstract new (...args: never[]) => unknown>();
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const type = wrapper.metatype as unknown;
      if (typeof type === 'function' && type.prototype) classes.add(type as abstract new () => unknown);
    }
    const unrouted = [...classes].flatMap(unroutedShardKeyMethods);
    if (!unrouted.length) return;
    throw new InvalidRouteError(
      `${[...new Set(unrouted)].join(', ')}: @ShardKey() marks a parameter, but the method has no routing decorator, ` +
        'so the call would run unrouted. Add @ShardBy(), @ReadReplica() or @UsePrimary() to the method.',
    );
  }
}
