import { canonicalKey, type ShardKeyValue } from '../routing/shard-key.js';

/**
 * The shard-key values a `where` provably confines rows to, or undefined when it does not (the
 * query then fans out). Only top-level conditions narrow: `{ key: v }`, `{ key: { $eq: v } }`,
 * `{ key: { $in: [...] } }` (or an array), also inside a top-level `$and`; several of them
 * intersect. Anything else — `$or`, `$ne`, ranges, nested relations — proves nothing.
 */
export function narrowedKeys(where: unknown, keyProperty: string, keyIsPrimary: boolean): ShardKeyValue[] | undefined {
  if (keyIsPrimary && (typeof where !== 'object' || where === null || Array.isArray(where))) {
    const values = keyValues(where); // em.find(User, 42) / em.find(User, [1, 2])
    if (values) return values;
  }
  if (typeof where !== 'object' || where === null) return undefined;
  let narrowed: ShardKeyValue[] | undefined;
  const intersect = (values: ShardKeyValue[] | undefined) => {
    if (!values) return;
    const canonical = new Set(values.map((v) => canonicalKey(v)));
    narrowed = narrowed ? narrowed.filter((v) => canonical.has(canonicalKey(v))) : values;
  };
  const record = where as Record<string, unknown>;
  if (keyProperty in record) intersect(conditionValues(record[keyProperty]));
  if (Array.isArray(record.$and)) {
    for (const part of record.$and) intersect(narrowedKeys(part, keyProperty, false));
  }
  return narrowed;
}

function conditionValues(condition: unknown): ShardKeyValue[] | undefined {
  const direct = keyValues(condition);
  if (direct) return direct;
  if (typeof condition !== 'object' || condition === null) return undefined;
  const operators = condition as Record<string, unknown>;
  const keys = Object.keys(operators);
  // { $eq: 1, $gt: 0 } still narrows to 1: every extra operator only removes rows
  if (keys.includes('$eq')) return keyValues(operators.$eq);
  if (keys.includes('$in')) return keyValues(operators.$in);
  return undefined;
}

/** A usable key or list of keys; undefined for anything the strategy could not route. */
function keyValues(value: unknown): ShardKeyValue[] | undefined {
  if (Array.isArray(value)) {
    return value.every((v) => canonicalKey(v) !== undefined) ? (value as ShardKeyValue[]) : undefined;
  }
  return canonicalKey(value) !== undefined ? [value as ShardKeyValue] : undefined;
}
