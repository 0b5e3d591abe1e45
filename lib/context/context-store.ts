import { AsyncLocalStorage } from 'node:async_hooks';
import type { CallFrame } from './request-scope.js';

/**
 * The one AsyncLocalStorage of the library. Per-request state lives here, never in
 * `Scope.REQUEST` providers (which would rebuild the DI chain on every request).
 */
const storage = new AsyncLocalStorage<CallFrame>();

/**
 * The current frame. A request's root frame (no node chosen) stops being current once its response has
 * closed; a routed call still running in it keeps its own frame.
 */
export const currentFrame = (): CallFrame | undefined => {
  const frame = storage.getStore();
  return frame !== undefined && frame.scope.closed && frame.node === undefined ? undefined : frame;
};

/**
 * Makes `frame` current for the rest of the caller's async flow (a guard cannot wrap what follows it).
 * The frame stays on the async resource the guard ran in until something replaces it: see `closed`.
 */
export function enterFrame(frame: CallFrame): void {
  storage.enterWith(frame);
}

export function runInFrame<T>(frame: CallFrame, fn: () => T): T {
  return storage.run(frame, fn);
}

/**
 * Runs `fn` in the frame; when the frame opened its scope (a top-level routed call, `run()`,
 * `withContext()`), the scope lets go of its forks once `fn` has settled, thrown or not. No extra promise
 * for a call that joined an open scope.
 */
export function runInFrameAndRelease<T>(frame: CallFrame, fn: () => T | Promise<T>): Promise<T> {
  if (!frame.opened) return Promise.resolve(storage.run(frame, fn));
  const { scope } = frame;
  let result: Promise<T>;
  try {
    result = Promise.resolve(storage.run(frame, fn));
  } catch (error) {
    scope.release();
    throw error;
  }
  return result.then(
    (value) => {
      scope.release();
      return value;
    },
    (error: unknown) => {
      scope.release();
      throw error;
    },
  );
}

/** Runs `fn` outside any routing context (e.g. a directory lookup must not join the caller's fork). */
export function outsideContext<T>(fn: () => T): T {
  return storage.exit(fn);
}
