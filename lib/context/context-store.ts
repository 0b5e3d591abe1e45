import { AsyncLocalStorage } from 'node:async_hooks';
import type { CallFrame } from './request-scope.js';

/**
 * The one AsyncLocalStorage of the library. Per-request state lives here, never in
 * `Scope.REQUEST` providers (which would rebuild the DI chain on every request).
 */
const storage = new AsyncLocalStorage<CallFrame>();

export const currentFrame = (): CallFrame | undefined => storage.getStore();

export function runInFrame<T>(frame: CallFrame, fn: () => T): T {
  return storage.run(frame, fn);
}

/** Runs `fn` outside any routing context (e.g. a directory lookup must not join the caller's fork). */
export function outsideContext<T>(fn: () => T): T {
  return storage.exit(fn);
}
