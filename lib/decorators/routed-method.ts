import { runInFrameAndRelease } from '../context/context-store.js';
import { resolveFrame, type RouteSpec } from '../context/route-resolver.js';
import { InvalidRouteError } from '../errors/invalid-route.error.js';
import { readPath, type KeyExtractor } from './key-extractor.js';
import { boundRuntime } from './route-binding.js';

type Method = ((...args: unknown[]) => unknown) & { [ROUTE]?: RouteState };

/** What the routing decorators on one method asked for. */
export interface RouteState {
  readonly original: Method;
  /** `UsersService.findOne` */
  readonly caller: string;
  key?: KeyExtractor;
  /** `@ShardBy` or `@ShardKey`, for conflict messages. */
  keyBy?: string;
  target?: 'primary' | 'replica';
  targetBy?: string;
}

const ROUTE = Symbol('nestjs-mikro-orm-sharding:route');
/** `@ShardKey()` marks: method name → parameter index and path, stored on the prototype. */
export const SHARD_KEY_PARAMS = Symbol('nestjs-mikro-orm-sharding:shard-key-params');

type Prototype = object & { [SHARD_KEY_PARAMS]?: Map<string | symbol, { index: number; path: string[] }> };

/**
 * Applies one routing decorator. The method is wrapped once, however many routing decorators it has;
 * the wrapper keeps the original's name and every reflect-metadata entry (Nest route, guard and other
 * libraries' metadata), and at call time resolves the node and runs the original in that node's frame.
 * Problems (a key naming no parameter, a sync method, contradicting decorators) throw
 * `InvalidRouteError` here, when the class is defined — so the application fails at start.
 */
export function applyRoute(
  decorator: string,
  prototype: object,
  propertyKey: string | symbol,
  descriptor: PropertyDescriptor,
  change: (state: RouteState) => void,
): PropertyDescriptor {
  const caller = `${prototype.constructor.name}.${String(propertyKey)}`;
  const current = descriptor.value as Method | undefined;
  if (typeof current !== 'function') throw new InvalidRouteError(`${caller}: ${decorator} decorates methods only.`);
  const wrapper = current[ROUTE] ? current : wrap(current, prototype, propertyKey, caller);
  const state = wrapper[ROUTE]!;
  change(state);
  // the class's own marks only: a subclass override has its own parameters
  const marked = Object.hasOwn(prototype, SHARD_KEY_PARAMS)
    ? (prototype as Prototype)[SHARD_KEY_PARAMS]!.get(propertyKey)
    : undefined;
  if (marked && state.keyBy !== '@ShardKey') {
    if (state.key)
      throw new InvalidRouteError(`${caller}: use either @ShardBy(key) or @ShardKey() on a parameter, not both.`);
    const { index, path } = marked;
    state.key = {
      label: `(@ShardKey argument ${index}${path.length ? `, '${path.join('.')}'` : ''})`,
      extract: (args) => readPath(args[index], path),
    };
    state.keyBy = '@ShardKey';
  }
  descriptor.value = wrapper;
  return descriptor;
}

/**
 * Methods of a class (and its base classes) with a `@ShardKey()` parameter but no routing method
 * decorator: the mark alone routes nothing, so the module refuses to start with them.
 */
export function unroutedShardKeyMethods(target: abstract new (...args: never[]) => unknown): string[] {
  const found: string[] = [];
  for (
    let proto = target.prototype as Prototype | null;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    if (!Object.hasOwn(proto, SHARD_KEY_PARAMS)) continue;
    for (const method of proto[SHARD_KEY_PARAMS]!.keys()) {
      const value = Object.getOwnPropertyDescriptor(proto, method)?.value as Method | undefined;
      if (!value?.[ROUTE]) found.push(`${proto.constructor.name}.${String(method)}`);
    }
  }
  return found;
}

const routedPrototypes = new WeakMap<object, boolean>();

/**
 * Whether an object's class (or a base class) has a routed method: such instances are bound to their
 * module's runtime when the application starts. Cached per prototype.
 */
export function hasRoutedMethods(instance: object): boolean {
  const prototype = Object.getPrototypeOf(instance) as object | null;
  if (!prototype) return false;
  let routed = routedPrototypes.get(prototype);
  if (routed === undefined) {
    routed = false;
    for (
      let proto: object | null = prototype;
      proto && proto !== Object.prototype;
      proto = Object.getPrototypeOf(proto)
    ) {
      for (const name of Reflect.ownKeys(proto)) {
        const value = Object.getOwnPropertyDescriptor(proto, name)?.value as Method | undefined;
        if (typeof value === 'function' && value[ROUTE]) routed = true;
      }
    }
    routedPrototypes.set(prototype, routed);
  }
  return routed;
}

/** Records a target (primary or replica) once; a second, different one is a contradiction. */
export function setTarget(state: RouteState, target: 'primary' | 'replica', decorator: string): void {
  if (state.targetBy && state.targetBy !== decorator) {
    throw new InvalidRouteError(`${state.caller}: ${state.targetBy} and ${decorator} contradict each other; keep one.`);
  }
  state.target = target;
  state.targetBy = decorator;
}

function wrap(original: Method, prototype: object, propertyKey: string | symbol, caller: string): Method {
  rejectSync(original, prototype, propertyKey, caller);
  const state: RouteState = { original, caller };
  const name = original.name;
  // built once per method (after every decorator ran, at the first call): no allocation per call
  let spec: RouteSpec | undefined;
  const wrapper = {
    // Not `async`: when the strategy is synchronous the frame is resolved without an extra promise.
    [name](this: unknown, ...args: unknown[]): Promise<unknown> {
      try {
        spec ??= { caller, key: state.key?.extract, keyLabel: state.key?.label, target: state.target ?? 'primary' };
        const frame = resolveFrame(spec, args, boundRuntime(this));
        const run = () => original.apply(this, args) as Promise<unknown>;
        if (frame instanceof Promise) return frame.then((f) => runInFrameAndRelease(f, run));
        return runInFrameAndRelease(frame, run);
      } catch (error) {
        return Promise.reject(error);
      }
    },
  }[name] as Method;
  for (const metadataKey of Reflect.getOwnMetadataKeys?.(original) ?? []) {
    Reflect.defineMetadata(metadataKey, Reflect.getOwnMetadata(metadataKey, original), wrapper);
  }
  Object.defineProperty(wrapper, ROUTE, { value: state });
  return wrapper;
}

function rejectSync(original: Method, prototype: object, propertyKey: string | symbol, caller: string): void {
  if (original.constructor.name === 'AsyncFunction') return;
  const returns = Reflect.getMetadata?.('design:returntype', prototype, propertyKey) as { name?: string } | undefined;
  if (returns === undefined || returns === Promise) return; // undeclared: may return a Promise
  throw new InvalidRouteError(
    `${caller} is synchronous (declared to return ${returns?.name ?? String(returns)}), but a routed method runs after ` +
      'its shard is resolved, so it always returns a Promise. Make it async (or declare it to return a Promise).',
  );
}
