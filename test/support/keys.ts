import { hashStrategy } from '../../lib/index.js';

/** `count` keys `${prefix}-${i}` that the default hash strategy puts on `shard` (of `shards`). */
export function keysOn(shard: string, prefix: string, count = 1, shards: readonly string[] = ['s0', 's1']): string[] {
  const strategy = hashStrategy();
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    if (strategy.shardFor(`${prefix}-${i}`, shards) === shard) keys.push(`${prefix}-${i}`);
  }
  return keys;
}

/** Retries `check` (expectations) until it passes, then returns its value; fails with its last error after `ms`. */
export async function settles<T>(check: () => T | Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
