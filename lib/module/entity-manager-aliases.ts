import { EntityManager as CoreEntityManager } from '@mikro-orm/core';
import { EntityManager as PostgreSqlEntityManager, SqlEntityManager } from '@mikro-orm/postgresql';
import type { Provider } from '@nestjs/common';
import { ShardedEntityManager } from '../context/sharded-entity-manager.js';

/**
 * MikroORM's EntityManager classes as injection tokens, each the `ShardedEntityManager` itself: code written
 * for `@mikro-orm/nestjs` (`constructor(private readonly em: EntityManager)`) is routed unchanged.
 */
export const ENTITY_MANAGER_CLASSES = [CoreEntityManager, SqlEntityManager, PostgreSqlEntityManager] as const;

export const entityManagerAliases: Provider[] = ENTITY_MANAGER_CLASSES.map((token) => ({
  provide: token,
  useExisting: ShardedEntityManager,
}));
