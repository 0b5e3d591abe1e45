import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, ModulesContainer } from '@nestjs/core';
import { ShardingRuntime } from '../context/sharding-runtime.js';
import { addStartingModule, bindInstance, unbindInstance } from '../decorators/route-binding.js';
import { hasRoutedMethods, unroutedShardKeyMethods } from '../decorators/routed-method.js';
import { InvalidRouteError } from '../errors/invalid-route.error.js';

type InstanceWrapper = ReturnType<DiscoveryService['getProviders']>[number];
type Host = NonNullable<InstanceWrapper['host']>;

/**
 * Prepares the application's routed classes when it starts; every provider and controller (GraphQL
 * resolvers and RPC controllers included) and every enhancer Nest made from a class (`@UseGuards(AuthGuard)`)
 * is looked at:
 * - refuses a `@ShardKey()` parameter on a method with no routing method decorator (parameter decorators
 *   run before method decorators, so only the finished class tells);
 * - binds every instance with a routed method to this module's runtime, so a routed call knows its
 *   application from its instance (one WeakMap read), whatever the instance injects, and two
 *   applications in one process never cross. Bound per instance: the same class provided in two
 *   applications has two instances, each bound to its own module.
 *
 * Binding happens in `onModuleInit` (a global ShardingModule's hooks run before every other module's);
 * until then — a test's `compile()` without `init()`, an earlier module's `onModuleInit` — a routed call
 * finds its instance in this application's container instead.
 */
@Injectable()
export class RouteCheck implements OnModuleInit, OnModuleDestroy {
  private readonly bound: object[] = [];
  private withdraw: (() => void) | undefined;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly modules: ModulesContainer,
    private readonly runtime: ShardingRuntime,
  ) {
    this.withdraw = addStartingModule((instance) => (this.routedInstances().has(instance) ? runtime : undefined));
  }

  onModuleInit(): void {
    this.withdraw?.();
    this.withdraw = undefined;
    this.refuseUnroutedShardKeys();
    for (const instance of this.routedInstances()) {
      bindInstance(instance, this.runtime);
      this.bound.push(instance);
    }
  }

  onModuleDestroy(): void {
    this.withdraw?.();
    for (const instance of this.bound.splice(0)) unbindInstance(instance, this.runtime);
  }

  /** Providers, controllers, and the guards, interceptors and pipes Nest made from `@UseGuards(Class)` etc. */
  private wrappers(): InstanceWrapper[] {
    const injectables = [...this.modules.values()].flatMap((module) => [...module.injectables.values()]);
    return [
      ...this.discovery.getProviders(),
      ...this.discovery.getControllers(),
      ...(injectables as InstanceWrapper[]),
    ];
  }

  /**
   * The created instances with a routed method that this module serves: every one in the application
   * when it has one ShardingModule; with several (`isGlobal: false`), those of this module's importers.
   */
  private routedInstances(): Set<object> {
    const wrappers = this.wrappers();
    const own = wrappers.find((w) => w.instance === this.runtime)?.host;
    const runtimes = new Set(wrappers.map((w) => w.instance as unknown).filter((i) => i instanceof ShardingRuntime));
    const serves = (host: Host | undefined) =>
      runtimes.size <= 1 || (own !== undefined && (host === own || (host?.imports.has(own) ?? false)));
    const found = new Set<object>();
    for (const wrapper of wrappers) {
      if (!serves(wrapper.host)) continue;
      // a request-scoped provider has no instance yet (its calls run inside the request's context)
      const instances = wrapper.isTransient
        ? wrapper.getStaticTransientInstances().map((held) => held?.instance as unknown)
        : wrapper.isDependencyTreeStatic()
          ? [wrapper.instance as unknown]
          : [];
      for (const instance of instances) {
        if (typeof instance === 'object' && instance !== null && hasRoutedMethods(instance)) found.add(instance);
      }
    }
    return found;
  }

  private refuseUnroutedShardKeys(): void {
    const classes = new Set<abstract new (...args: never[]) => unknown>();
    for (const wrapper of this.wrappers()) {
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
