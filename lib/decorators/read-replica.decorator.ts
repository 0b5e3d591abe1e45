import { applyRoute, setTarget } from './routed-method.js';

/**
 * The call reads from a replica of its shard — the shard chosen by `@ShardBy`/`@ShardKey`, the
 * enclosing call's shard, or the only shard. It runs on the primary instead inside a transaction, after
 * this request wrote to the shard, or when the shard has no replica. Writes inside it (flush,
 * insert/update/delete, `transactional`) throw `ReadOnlyContextError` before reaching any server.
 */
export function ReadReplica(): MethodDecorator {
  return (prototype, propertyKey, descriptor) =>
    applyRoute('@ReadReplica()', prototype, propertyKey, descriptor, (state) =>
      setTarget(state, 'replica', '@ReadReplica()'),
    );
}
