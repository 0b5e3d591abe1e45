/** What a shard key can be. Integers given as number, bigint or decimal string are the same key. */
export type ShardKeyValue = string | number | bigint;

/**
 * The key's canonical text, the same for `42`, `42n` and `'42'` so a key routes alike whichever
 * form the caller has (an id from a URL is a string). `undefined` for a missing or unusable key:
 * null, undefined, an empty string, NaN/Infinity, or any non-primitive.
 */
export function canonicalKey(key: unknown): string | undefined {
  switch (typeof key) {
    case 'string':
      return key.trim() === '' ? undefined : key;
    case 'number':
      return Number.isFinite(key) ? String(key) : undefined;
    case 'bigint':
      return key.toString();
    default:
      return undefined;
  }
}

/** The key as a bigint when it is an integer (number, bigint or decimal string), else undefined. */
export function integerKey(key: ShardKeyValue): bigint | undefined {
  if (typeof key === 'bigint') return key;
  if (typeof key === 'number') return Number.isSafeInteger(key) ? BigInt(key) : undefined;
  return /^-?\d+$/.test(key.trim()) ? BigInt(key.trim()) : undefined;
}

/** A short, log-safe rendering of a key for error messages. */
export function showKey(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
  if (typeof key === 'bigint') return `${key}n`;
  if (typeof key === 'function') return 'a function';
  if (key === null || typeof key !== 'object') return String(key);
  return Array.isArray(key) ? 'an array' : 'an object';
}
