import { helper, Reference } from '@mikro-orm/core';
import type { ShardKeyValue } from './shard-key.js';

/**
 * Where an entity's shard key is: a property (its value, or the primary key of the entity it refers
 * to, e.g. `Order: 'user'`), or a function of the entity (`User: (u) => u.tenantId`).
 */
export type EntityShardKey = string | ((entity: object) => unknown);

/** Entity name → where its shard key is (module option `shardKeys`). */
export type ShardKeysOption = Record<string, EntityShardKey>;

/**
 * The shard key `entity` carries by the map, or `undefined` when the map does not name its entity (or
 * the key is not set yet). A property that holds another entity (or a reference) gives that entity's
 * primary key: an order lives where its user does.
 */
export function entityShardKey(keys: ShardKeysOption, entityName: string, entity: object): unknown {
  const where = keys[entityName];
  if (where === undefined) return undefined;
  const value = typeof where === 'function' ? where(entity) : (entity as Record<string, unknown>)[where];
  return keyOf(value);
}

function keyOf(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const target = Reference.isReference(value) ? (value as Reference<object>).unwrap() : value;
  try {
    return helper(target).getPrimaryKey() as ShardKeyValue | undefined;
  } catch {
    return value; // not an entity: the strategy will say it cannot route it
  }
}
