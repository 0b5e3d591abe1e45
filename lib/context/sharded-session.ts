import type { EntityData, EntityName, FilterQuery, FindOneOptions, FindOptions, Loaded } from '@mikro-orm/core';
import { helper, Utils } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ShardKeyMissingError } from '../errors/shard-key-missing.error.js';
import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { narrowedKeys } from '../cross-shard/shard-narrowing.js';
import { entityShardKey } from '../routing/entity-shard-key.js';
import { canonicalKey, showKey, type ShardKeyValue } from '../routing/shard-key.js';
import type { ShardingRuntime } from './sharding-runtime.js';

/**
 * One unit of work over every shard, like SQLAlchemy's `ShardedSession`: each entity is placed on the
 * shard its own key says (the module's `shardKeys`), lookups by primary key go to the key's shard, and
 * `find` runs on the shards a shard-key filter allows (else on all). Entities live in one fork per shard
 * (on its acting primary) and `flush()` commits each shard that has changes, one after the other: a flush
 * touching several shards is not atomic across them (each shard's part commits on its own).
 */
export class ShardedSession {
  private readonly forks = new Map<string, EntityManager>();

  constructor(private readonly runtime: ShardingRuntime) {}

  /** Creates an entity on the shard its own key maps to (the key must be in `data`), and persists it. */
  async create<T extends object>(entityName: EntityName<T>, data: EntityData<T>): Promise<T> {
    const name = Utils.className(entityName);
    const shard = await this.shardOfEntity(name, data as object, 'create');
    const entity = this.fork(shard).create(entityName, data as never) as T;
    return entity;
  }

  /** Persists an entity made elsewhere on the shard its own key maps to. */
  async persist<T extends object>(entity: T): Promise<T> {
    const shard = await this.shardOfEntity(helper(entity).__meta.className, entity, 'persist');
    this.fork(shard).persist(entity);
    return entity;
  }

  /** Marks a loaded entity for removal on its shard. */
  async remove<T extends object>(entity: T): Promise<void> {
    const shard = await this.shardOfEntity(helper(entity).__meta.className, entity, 'remove');
    this.fork(shard).remove(entity);
  }

  /** Writes every shard's changes, shard by shard (each commits on its own). */
  async flush(): Promise<void> {
    for (const fork of this.forks.values()) await fork.flush();
  }

  /**
   * By primary key: on the key's shard when the entity's shard key is its primary key, else asked of
   * every shard until one has it.
   */
  async findOne<T extends object, P extends string = never>(
    entityName: EntityName<T>,
    id: ShardKeyValue,
    options?: FindOneOptions<T, P>,
  ): Promise<Loaded<T, P> | null> {
    for (const shard of await this.shardsForId(entityName, id)) {
      const found = await this.fork(shard).findOne(entityName, id as never, options);
      if (found) return found;
    }
    return null;
  }

  /** `findOne`, or MikroORM's `NotFoundError` (from the key's shard) when no shard has it. */
  async findOneOrFail<T extends object, P extends string = never>(
    entityName: EntityName<T>,
    id: ShardKeyValue,
    options?: FindOneOptions<T, P>,
  ): Promise<Loaded<T, P>> {
    const found = await this.findOne(entityName, id, options);
    if (found) return found;
    const [shard] = await this.shardsForId(entityName, id);
    return (await this.fork(shard).findOneOrFail(entityName, id as never, options)) as Loaded<T, P>;
  }

  /** Rows of the shards a shard-key filter allows (every shard without one), concatenated in shard order. */
  async find<T extends object, P extends string = never>(
    entityName: EntityName<T>,
    where: FilterQuery<T> = {} as FilterQuery<T>,
    options?: FindOptions<T, P>,
  ): Promise<Loaded<T, P>[]> {
    const name = Utils.className(entityName);
    const keyProperty = this.runtime.settings.shardKeys[name];
    const keys =
      typeof keyProperty === 'string'
        ? narrowedKeys(where, keyProperty, this.isPrimaryKey(name, keyProperty))
        : undefined;
    const shards = keys
      ? [...new Set(await Promise.all(keys.map((key) => this.runtime.shardFor(key))))]
      : this.runtime.shardNames;
    const results: Loaded<T, P>[] = [];
    for (const shard of this.runtime.shardNames.filter((s) => shards.includes(s))) {
      results.push(...((await this.fork(shard).find(entityName, where as never, options)) as Loaded<T, P>[]));
    }
    return results;
  }

  /** This session's fork on a shard's acting primary (made at first use). */
  fork(shard: string): EntityManager {
    let em = this.forks.get(shard);
    if (!em) {
      em = this.runtime.registry.acting(shard).primary.fork();
      this.forks.set(shard, em);
    }
    return em;
  }

  private async shardOfEntity(name: string, entity: object, what: string): Promise<string> {
    if (this.runtime.settings.shardKeys[name] === undefined) {
      throw new ShardRoutingError(
        `ShardedSession.${what}(${name}): shardKeys does not name ${name}; add it (shardKeys: { ${name}: 'id' }) so each ${name} is placed by its own key.`,
      );
    }
    const key = entityShardKey(this.runtime.settings.shardKeys, name, entity);
    if (canonicalKey(key) === undefined) {
      throw new ShardKeyMissingError(
        `ShardedSession.${what}(${name}): its shard key is ${showKey(key)}; set it before (a key generated by the database cannot place a row).`,
      );
    }
    return this.runtime.shardFor(key as ShardKeyValue);
  }

  private async shardsForId<T extends object>(
    entityName: EntityName<T>,
    id: ShardKeyValue,
  ): Promise<readonly string[]> {
    const name = Utils.className(entityName);
    const keyProperty = this.runtime.settings.shardKeys[name];
    if (typeof keyProperty === 'string' && this.isPrimaryKey(name, keyProperty))
      return [await this.runtime.shardFor(id)];
    return this.runtime.shardNames;
  }

  private isPrimaryKey(name: string, property: string): boolean {
    for (const meta of this.runtime.registry.nodes[0].orm.getMetadata()) {
      if (meta.className === name) return meta.primaryKeys.includes(property as never);
    }
    return false;
  }
}
