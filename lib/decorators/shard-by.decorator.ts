import { InvalidRouteError } from '../errors/invalid-route.error.js';
import { compileKeyExtractor, type ShardKeySpec } from './key-extractor.js';
import { declaredParameterNames } from './parameter-names.js';
import { applyRoute } from './routed-method.js';

/**
 * Routes the method to the shard of a key: a parameter name (`'id'`), a path into a parameter
 * (`'dto.tenantId'`), a parameter index, or a function of the arguments. Without `@ReadReplica()` the
 * call runs on the shard's primary. `@ShardBy()` without a key takes it from a `@ShardKey()` parameter
 * (or the enclosing call's shard). A key naming no parameter fails when the class is defined; at call
 * time a missing, empty or wrongly typed key throws `ShardKeyMissingError` (never a default shard).
 *
 * @example
 * \@ShardBy('id') \@ReadReplica()
 * async findOne(id: string) { return this.em.findOneOrFail(User, id); }
 */
export function ShardBy(key?: ShardKeySpec): MethodDecorator {
  return (prototype, propertyKey, descriptor) =>
    applyRoute('@ShardBy', prototype, propertyKey, descriptor, (state) => {
      if (key === undefined) return; // the key comes from @ShardKey() or the enclosing call
      if (state.key)
        throw new InvalidRouteError(`${state.caller}: the shard key is given twice; keep one @ShardBy/@ShardKey.`);
      // below a wrapping decorator (MikroORM's @Transactional()), the parameters are read from the class
      state.key = compileKeyExtractor(key, state.original, state.caller, () =>
        declaredParameterNames(prototype.constructor as abstract new () => unknown, propertyKey),
      );
      state.keyBy = '@ShardBy';
    });
}
