/**
 * STAND-IN for `@mikro-orm/decorators/legacy` (Transactional, CreateRequestContext, EnsureRequestContext),
 * which is not installed here. It follows that package's documented contract, the part routing depends on:
 * - the method must be an `async function` (checked through `constructor.name` when the class is defined);
 * - the EntityManager comes from the `context` option, else `this.em` when it is `instanceof EntityManager`,
 *   else `this.orm.em`; for `@Transactional()` then MikroORM's current transaction or request context;
 * - `@Transactional()` runs the method in `em.transactional(fn, { propagation: REQUIRED, ...options })`;
 * - `@CreateRequestContext()` runs it in `RequestContext.create(em, fn)` (or, inside a transaction,
 *   `TransactionContext.create(em.fork({ useContext: true }), fn)`); `@EnsureRequestContext()` reuses a
 *   request context already open for `em.name`.
 * Once `@mikro-orm/decorators` 7.2.1 is a dev dependency, the fixtures import it instead and this file goes.
 */
import {
  EntityManager,
  EntityRepository,
  MikroORM,
  RequestContext,
  TransactionContext,
  TransactionPropagation,
  type TransactionOptions,
} from '@mikro-orm/core';

type Host = { em?: unknown; orm?: unknown };
type Context = (self: never) => unknown;
type AsyncMethod = (...args: unknown[]) => Promise<unknown>;

function entityManagerOf(self: Host, context?: Context): EntityManager | undefined {
  const given = context?.(self as never);
  if (given instanceof EntityManager) return given;
  if (given instanceof EntityRepository) return given.getEntityManager();
  if (given instanceof MikroORM) return given.em;
  if (self.em instanceof EntityManager) return self.em;
  if (self.orm instanceof MikroORM) return self.orm.em;
  return undefined;
}

function asyncOnly(decorator: string, descriptor: PropertyDescriptor): AsyncMethod {
  const method = descriptor.value as AsyncMethod;
  if (method.constructor.name !== 'AsyncFunction') throw new Error(`${decorator} should be use with async functions`);
  return method;
}

export function Transactional(options: TransactionOptions & { context?: Context } = {}): MethodDecorator {
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const method = asyncOnly('@Transactional()', descriptor);
    const { context, ...transaction } = options;
    descriptor.value = async function (this: Host, ...args: unknown[]) {
      const em =
        entityManagerOf(this, context) ?? TransactionContext.getEntityManager() ?? RequestContext.getEntityManager();
      if (!em) throw new Error('@Transactional() found no EntityManager');
      return em.transactional(() => method.apply(this, args), {
        propagation: TransactionPropagation.REQUIRED,
        ...transaction,
      });
    };
    return descriptor;
  };
}

export function CreateRequestContext(context?: Context, reuseOpen = false): MethodDecorator {
  const name = reuseOpen ? '@EnsureRequestContext()' : '@CreateRequestContext()';
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const method = asyncOnly(name, descriptor);
    descriptor.value = async function (this: Host, ...args: unknown[]) {
      const em = entityManagerOf(this, context);
      if (!em) throw new Error(`${name} found no EntityManager`);
      if (reuseOpen && RequestContext.getEntityManager(em.name)) return method.apply(this, args);
      if (TransactionContext.currentTransactionContext())
        return TransactionContext.create(em.fork({ useContext: true }), () => method.apply(this, args));
      return RequestContext.create(em, () => method.apply(this, args));
    };
    return descriptor;
  };
}

export const EnsureRequestContext = (context?: Context): MethodDecorator => CreateRequestContext(context, true);
