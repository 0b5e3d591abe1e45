import type { ShardingRuntime } from '../context/sharding-runtime.js';

/**
 * Instance → the runtime of the ShardingModule whose application provides it; `null` when two
 * applications provide the very same object (a shared `useValue`): its module is then ambiguous.
 * Filled by the module when it starts; each module removes its own entries on shutdown.
 */
const bound = new WeakMap<object, ShardingRuntime | null>();

/**
 * Modules created but not started yet (a test's `compile()` without `init()`, or an `onModuleInit` that
 * runs before the ShardingModule's): each says whether an instance belongs to its application (its DI
 * container holds it). Empty once every application has started, so a call never searches then.
 */
const starting = new Set<(instance: object) => ShardingRuntime | undefined>();

/**
 * The runtime of the module that provides `instance`: one WeakMap read on the hot path; an instance
 * not bound (made with `new`, request-scoped) gives undefined, and routes inside an enclosing context.
 */
export function boundRuntime(instance: unknown): ShardingRuntime | undefined {
  const runtime = bound.get(instance as object);
  if (runtime !== undefined) return runtime ?? undefined;
  return starting.size && typeof instance === 'object' && instance !== null ? findStarting(instance) : undefined;
}

/** Binds an instance to its module's runtime; the same object bound by another module becomes ambiguous. */
export function bindInstance(instance: object, runtime: ShardingRuntime): void {
  const current = bound.get(instance);
  bound.set(instance, current === undefined || current === runtime ? runtime : null);
}

/** Forgets a binding of this runtime (on its module's shutdown). */
export function unbindInstance(instance: object, runtime: ShardingRuntime): void {
  if (bound.get(instance) === runtime) bound.delete(instance);
}

/** A module that has not bound its instances yet; the returned function withdraws it. */
export function addStartingModule(owns: (instance: object) => ShardingRuntime | undefined): () => void {
  starting.add(owns);
  return () => starting.delete(owns);
}

function findStarting(instance: object): ShardingRuntime | undefined {
  const found = new Set<ShardingRuntime>();
  for (const owns of starting) {
    const runtime = owns(instance);
    if (runtime) found.add(runtime);
  }
  if (found.size === 0) return undefined; // not provided by a starting application: maybe later, do not cache
  for (const runtime of found) bindInstance(instance, runtime);
  return bound.get(instance) ?? undefined;
}
