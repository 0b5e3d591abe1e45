import { currentFrame } from '../context/context-store.js';
import { NoShardContextError } from '../errors/no-shard-context.error.js';
import { InvalidTransactionError } from '../errors/invalid-transaction.error.js';
import type { CrossShardTransactionOptions } from '../transactions/transaction-options.js';
import { runCrossShardTransaction } from '../transactions/transaction-runner.js';
import { boundRuntime } from './route-binding.js';

/**
 * Runs the method as one cross-shard transaction (`ShardingService.transaction()`): every routed call it
 * makes joins its shard's part on the primary, and all parts commit atomically when it resolves, or roll
 * back when it throws. The method must be async. Combine with `@ShardBy` to start on the key's shard
 * (`this.em` then works in the body).
 *
 * @example
 * @CrossShardTransaction()
 * async transfer(from: string, to: string, amount: number) {
 *   await this.accounts.debit(from, amount);
 *   await this.accounts.credit(to, amount);
 * }
 */
export function CrossShardTransaction(options: CrossShardTransactionOptions = {}): MethodDecorator {
  return (prototype, propertyKey, descriptor) => {
    const caller = `${prototype.constructor.name}.${String(propertyKey)}`;
    const original = descriptor.value as unknown;
    if (typeof original !== 'function') {
      throw new InvalidTransactionError(`${caller}: @CrossShardTransaction() decorates methods only.`);
    }
    const returns = Reflect.getMetadata?.('design:returntype', prototype, propertyKey) as unknown;
    if (original.constructor.name !== 'AsyncFunction' && returns !== undefined && returns !== Promise) {
      throw new InvalidTransactionError(
        `${caller} is synchronous, but @CrossShardTransaction() commits when the method's promise resolves. Make it async.`,
      );
    }
    const name = original.name;
    const wrapper = {
      [name](this: unknown, ...args: unknown[]): Promise<unknown> {
        try {
          const runtime = boundRuntime(this) ?? currentFrame()?.scope.runtime;
          if (!runtime) throw NoShardContextError.forUnboundCall(caller);
          return runCrossShardTransaction(
            runtime,
            () => (original as (...a: unknown[]) => Promise<unknown>).apply(this, args),
            caller,
            options,
          );
        } catch (error) {
          return Promise.reject(error);
        }
      },
    }[name];
    for (const key of Reflect.getOwnMetadataKeys?.(original) ?? []) {
      Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), wrapper);
    }
    descriptor.value = wrapper as never;
    return descriptor;
  };
}
