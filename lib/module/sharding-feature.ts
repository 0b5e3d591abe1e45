import { EntitySchema, MetadataStorage, Utils, type EntityName } from '@mikro-orm/core';
import { Module, type DynamicModule, type InjectionToken, type Provider } from '@nestjs/common';
import { createRoutedRepository } from '../context/routed-repository.js';
import { ShardedEntityManager } from '../context/sharded-entity-manager.js';
import { ShardingConfigError } from '../errors/sharding-config.error.js';

/** The entities of `ShardingModule.forFeature`: a list, or `{ entities }` as `MikroOrmModule.forFeature` takes. */
export type ShardingFeatureEntities = readonly EntityName[] | { entities: readonly EntityName[] };

type RepositoryToken = (entity: EntityName) => string;

/** The module `ShardingModule.forFeature()` returns: repositories only, no ORM of its own. */
@Module({})
export class ShardingFeatureModule {
  static async forFeature(options: ShardingFeatureEntities): Promise<DynamicModule> {
    const entities = 'entities' in options ? options.entities : options;
    const caller = `ShardingModule.forFeature([${entities.map((entity) => Utils.className(entity)).join(', ')}])`;
    const repositoryToken = await loadRepositoryToken(caller);
    const tokens: InjectionToken[] = [];
    const providers = entities.flatMap((entity): Provider[] => {
      const token = repositoryToken(entity);
      const custom = declaredRepository(entity);
      tokens.push(token, ...(custom ? [custom] : []));
      return [
        {
          provide: token,
          inject: [ShardedEntityManager],
          useFactory: (em: ShardedEntityManager) => createRoutedRepository(em, entity, caller),
        },
        ...(custom ? [{ provide: custom, useExisting: token }] : []),
      ];
    });
    return { module: ShardingFeatureModule, providers, exports: tokens };
  }
}

/** The custom repository class an entity declares, known before the ORM starts (it is a provider token). */
function declaredRepository(entity: EntityName): InjectionToken | undefined {
  const meta =
    entity instanceof EntitySchema
      ? entity.meta
      : (EntitySchema.REGISTRY.get(entity)?.meta ??
        Object.values(MetadataStorage.getMetadata()).find((candidate) => candidate.class === entity));
  return meta?.repository?.() as InjectionToken | undefined;
}

/** `@mikro-orm/nestjs` is an optional peer: its token scheme is loaded only by an application that asks for repositories. */
async function loadRepositoryToken(caller: string): Promise<RepositoryToken> {
  try {
    return (await import('@mikro-orm/nestjs')).getRepositoryToken;
  } catch (error) {
    throw new ShardingConfigError([
      `${caller} needs @mikro-orm/nestjs for its repository tokens (InjectRepository, getRepositoryToken), ` +
        `and it could not be loaded (${(error as Error).message}). Install it: npm install @mikro-orm/nestjs`,
    ]);
  }
}
