import type { EntityName } from '@mikro-orm/core';
import { ShardingConfigError } from '../errors/sharding-config.error.js';
import type { NodeRegistry } from '../topology/node-registry.js';

/** The class names of `referenceEntities`, each checked to be one of the ORM's entities. */
export function referenceEntityNames(
  registry: NodeRegistry,
  entities: readonly EntityName[] = [],
): ReadonlySet<string> {
  const metadata = registry.nodes[0].orm.getMetadata();
  const names = new Set<string>();
  const problems: string[] = [];
  for (const entity of entities) {
    const meta = metadata.find(entity);
    if (meta) names.add(meta.className);
    else
      problems.push(
        `referenceEntities: ${typeof entity === 'function' ? entity.name : String(entity)} is not one of mikroOrm.entities; add it there too.`,
      );
  }
  if (problems.length) throw new ShardingConfigError(problems);
  return names;
}
