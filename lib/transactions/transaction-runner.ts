import { TransactionContext } from '@mikro-orm/core';
import { currentFrame, runInFrame, runInFrameAndRelease } from '../context/context-store.js';
import { callFrame } from '../context/request-scope.js';
import type { ShardingRuntime } from '../context/sharding-runtime.js';
import { CrossShardTransactionError } from '../errors/cross-shard-transaction.error.js';
import { InvalidTransactionError } from '../errors/invalid-transaction.error.js';
import { CrossShardTransaction, type Participant } from './cross-shard-transaction.js';
import type { CrossShardTransactionOptions } from './transaction-options.js';
import { commitParts, rollbackParts } from './two-phase-commit.js';

const TIMED_OUT = Symbol('timed out');

/**
 * Runs `fn` as one cross-shard transaction: every routed call inside joins its shard's part (a
 * transaction on the shard's acting primary, opened at the first call there; reads too). When `fn`
 * resolves, the parts commit atomically (commit-protocol in two-phase-commit.ts); when it throws or runs
 * past `timeoutMs`, every part rolls back. Called from inside a routed call, that call's shard is joined
 * first, so `this.em` inside `fn` works there.
 */
export async function runCrossShardTransaction<T>(
  runtime: ShardingRuntime,
  fn: () => Promise<T>,
  caller: string,
  options: CrossShardTransactionOptions = {},
  referenceWrite = false,
): Promise<T> {
  if (typeof fn !== 'function') {
    throw new InvalidTransactionError(`${caller} needs an async callback as its first argument.`);
  }
  const enclosing = currentFrame();
  const parent = enclosing?.scope.runtime === runtime ? enclosing : undefined;
  if (parent?.transaction) {
    throw new InvalidTransactionError(
      `${caller} was called inside another cross-shard transaction (around ${parent.caller}); transactions do not nest. ` +
        'Call the inner code directly: its routed calls join the open transaction.',
    );
  }
  // em.transactional() on a shard, around this call: routed calls on that shard would join it (not the
  // cross-shard part), so their writes would commit or roll back apart from the other shards'
  const local = TransactionContext.currentTransactionContext()?.em;
  const localNode = local && runtime.registry.nodes.find((node) => node.orm.em.name === local.name);
  if (localNode) {
    throw new InvalidTransactionError(
      `${caller} was called inside em.transactional() on shard "${localNode.shard}"; a cross-shard transaction cannot start ` +
        'inside another transaction. Start it outside, and let the shard-local work join it.',
    );
  }
  if (parent?.transactionEm) {
    throw new InvalidTransactionError(
      `${caller} was called inside a transaction on shard "${parent.shard}" (${parent.caller}); a cross-shard transaction ` +
        'cannot start inside another transaction. Start it outside, and let the shard-local work join it.',
    );
  }
  const timeoutMs = options.timeoutMs ?? runtime.settings.transactions.timeoutMs;
  const tx = new CrossShardTransaction(runtime, caller, options.isolationLevel, referenceWrite);
  const shard = parent?.shard ?? (runtime.shardNames.length === 1 ? runtime.shardNames[0] : undefined);
  const root = shard === undefined ? undefined : await tx.join(shard, caller);
  const scope = parent?.scope ?? runtime.newScope();
  const frame = callFrame(scope, caller, false, {
    shard,
    node: root?.node,
    transactionEm: root?.em,
    transaction: tx,
    opened: parent === undefined,
  });
  return runInFrameAndRelease(frame, async () => {
    let timer: NodeJS.Timeout | undefined;
    let rolledBack = false;
    let result: T;
    try {
      const work = fn();
      if (!isThenable(work)) {
        throw new InvalidTransactionError(
          `${caller}: the transaction callback returned ${typeof work} instead of a Promise. Make it async and await ` +
            'every call inside it: the commit waits for the promise.',
        );
      }
      const expired = new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
      });
      const first = await Promise.race([work, expired]);
      if (first === TIMED_OUT) {
        const parts = await tx.abandon(tx.endedError(caller));
        await rollbackParts(parts);
        rolledBack = true;
        throw new CrossShardTransactionError(
          `${caller} ran longer than its timeout (${timeoutMs} ms): every shard's part was rolled back (${shardList(parts)}). ` +
            'Nothing was committed. Raise timeoutMs for it, or keep slow work outside the transaction.',
          'aborted',
          parts.map((part) => part.shard),
        );
      }
      result = first as T;
    } catch (error) {
      if (!rolledBack) await rollbackParts(await tx.abandon(tx.endedError(caller)));
      throw error;
    } finally {
      clearTimeout(timer);
    }
    const parts = await tx.close();
    // the protocol runs in a frame of its own: the callback's frames now refuse work left running
    await runInFrame(callFrame(scope, caller, false, { transaction: tx.protocolView() }), () =>
      commitParts(runtime, scope, parts),
    );
    return result;
  });
}

function isThenable(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function shardList(parts: readonly Participant[]): string {
  return parts.length ? parts.map((part) => part.shard).join(', ') : 'none was open';
}
