import { InvalidRouteError } from '../errors/invalid-route.error.js';
import { SHARD_KEY_PARAMS } from './routed-method.js';

/**
 * Marks the parameter holding the shard key (optionally a path inside it), as an alternative to
 * `@ShardBy('name')`. The method still needs a routing method decorator: `@ShardBy()`,
 * `@ReadReplica()` or `@UsePrimary()`.
 *
 * @example
 * \@ReadReplica()
 * async orders(\@ShardKey() userId: string) { ... }
 */
export function ShardKey(path?: string): ParameterDecorator {
  return (prototype, propertyKey, index) => {
    if (propertyKey === undefined)
      throw new InvalidRouteError(
        `${(prototype as { name?: string }).name}: @ShardKey() belongs on a method parameter, not a constructor parameter.`,
      );
    const holder = prototype as { [SHARD_KEY_PARAMS]?: Map<string | symbol, { index: number; path: string[] }> };
    if (!Object.hasOwn(holder, SHARD_KEY_PARAMS)) Object.defineProperty(holder, SHARD_KEY_PARAMS, { value: new Map() });
    const marks = holder[SHARD_KEY_PARAMS]!;
    if (marks.has(propertyKey)) {
      throw new InvalidRouteError(
        `${prototype.constructor.name}.${String(propertyKey)}: @ShardKey() marks more than one parameter; keep one.`,
      );
    }
    const segments = path ? path.split('.') : [];
    if (segments.some((segment) => !segment)) {
      throw new InvalidRouteError(
        `${prototype.constructor.name}.${String(propertyKey)}: @ShardKey('${path}') is not a valid path (like 'owner.id').`,
      );
    }
    marks.set(propertyKey, { index, path: segments });
  };
}
