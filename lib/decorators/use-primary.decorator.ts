import { applyRoute, setTarget } from './routed-method.js';

/**
 * Forces the call onto its shard's primary, e.g. a read that must see a write just made by another
 * request. The shard comes from `@ShardBy`/`@ShardKey`, the enclosing call, or the only shard.
 */
export function UsePrimary(): MethodDecorator {
  return (prototype, propertyKey, descriptor) =>
    applyRoute('@UsePrimary()', prototype, propertyKey, descriptor, (state) =>
      setTarget(state, 'primary', '@UsePrimary()'),
    );
}
