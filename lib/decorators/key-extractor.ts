import { InvalidRouteError } from '../errors/invalid-route.error.js';
import { forwardsAllArguments, parameterNames } from './parameter-names.js';

/**
 * How `@ShardBy` finds the key: a parameter name (`'id'`), a path into a parameter
 * (`'dto.tenantId'`), a parameter index, or a function of the arguments.
 */
export type ShardKeySpec = string | number | ((...args: any[]) => unknown); // eslint-disable-line @typescript-eslint/no-explicit-any

/** Reads the key from a call's arguments; `label` names it in errors. */
export interface KeyExtractor {
  label: string;
  extract(args: readonly unknown[]): unknown;
}

/**
 * Compiles a key spec against the method's parameters; throws `InvalidRouteError` when it cannot match.
 * When `method` is a wrapper taking `(...args)` (another decorator's, written below), the parameters are
 * those `declared` gives (the class's source).
 */
export function compileKeyExtractor(
  spec: ShardKeySpec,
  method: (...args: never[]) => unknown,
  caller: string,
  declared?: () => (string | null)[] | undefined,
): KeyExtractor {
  if (typeof spec === 'function') return { label: 'from the key function', extract: (args) => spec(...args) };
  const names = (forwardsAllArguments(method) && declared?.()) || parameterNames(method);
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 0 || spec >= names.length) {
      throw new InvalidRouteError(
        `${caller}: @ShardBy(${spec}) points at no parameter; the method has ${names.length} (indexes from 0).`,
      );
    }
    return { label: `(argument ${spec}${names[spec] ? `, "${names[spec]}"` : ''})`, extract: (args) => args[spec] };
  }
  const [name, ...path] = spec.split('.');
  const index = names.indexOf(name);
  if (!name || index < 0 || path.some((segment) => !segment)) {
    throw new InvalidRouteError(
      `${caller}: @ShardBy('${spec}') names no parameter (parameters: ${names.map((n) => n ?? '<destructured>').join(', ') || 'none'}). ` +
        "Use a parameter name, a path like 'dto.tenantId', a parameter index, or a function of the arguments.",
    );
  }
  return { label: `'${spec}'`, extract: (args) => readPath(args[index], path) };
}

/** The value at `path` inside `value` (undefined when any step is missing). */
export function readPath(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const segment of path) {
    if (current === null || current === undefined) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
