import { Utils, type EntityName, type EntityRepository } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ShardingConfigError } from '../errors/sharding-config.error.js';
import { SHARDING_RUNTIME, type ShardedEntityManager } from './sharded-entity-manager.js';

type RepositoryClass<T extends object> = new (em: EntityManager, entityName: EntityName<T>) => EntityRepository<T>;

/**
 * The entity's repository — its custom class (`repository: () => UserRepository`), else the ORM's
 * `entityRepository`, else MikroORM's SQL repository — built on the `ShardedEntityManager` instead of a
 * fork: MikroORM's repositories reach their EntityManager through `getEntityManager()` on every call,
 * so one instance serves every request, each on its routed node (or inside its transaction).
 * `forFeature` is the name of the caller, for the error when the entity is not one of the ORM's.
 */
export function createRoutedRepository<T extends object>(
  em: ShardedEntityManager,
  entity: EntityName<T>,
  forFeature: string,
): EntityRepository<T> {
  const runtime = em[SHARDING_RUNTIME];
  const orm = runtime.registry.nodes[0].orm; // every node's ORM shares one discovered metadata
  const meta = orm.getMetadata().find(entity);
  if (!meta) {
    throw new ShardingConfigError([
      `${forFeature}: ${Utils.className(entity)} is not an entity of the ORM. ` +
        'Add it to the mikroOrm.entities option of ShardingModule.forRoot (every entity a repository is asked for must be discovered).',
    ]);
  }
  const Repository = orm.config.getRepositoryClass(meta.repository) as RepositoryClass<T>;
  const repository = new Repository(em as unknown as EntityManager, entity);
  // a routed method of a class that injects only repositories finds its module through them
  Object.defineProperty(repository, SHARDING_RUNTIME, { value: runtime });
  return repository;
}
