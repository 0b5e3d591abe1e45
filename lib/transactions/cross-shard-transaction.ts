import type { IsolationLevel } from '@mikro-orm/core';
import type { FrameTransaction, TransactionPart } from '../context/request-scope.js';
import type { ShardingRuntime } from '../context/sharding-runtime.js';
import { InvalidTransactionError } from '../errors/invalid-transaction.error.js';

/** One shard's part while the transaction runs. */
export interface Participant extends TransactionPart {
  /** BEGIN on the primary (the part is usable once it settled). */
  readonly opened: Promise<void>;
  /** The BEGIN succeeded: the part has a transaction to commit or roll back. */
  begun: boolean;
}

/**
 * The state of one cross-shard transaction while its callback runs: the part opened on each shard
 * touched (a transaction on the shard's acting primary, begun at the first routed call there). The
 * commit protocol (two-phase-commit.ts) ends it.
 */
export class CrossShardTransaction implements FrameTransaction {
  private readonly parts = new Map<string, Participant>();
  /** 'open' while the callback runs; joins are refused afterwards. */
  private state: 'open' | 'ending' = 'open';
  /** Aborted when the transaction is abandoned (timeout, callback failed): cancels statements in flight. */
  private readonly abandoned = new AbortController();

  constructor(
    readonly runtime: ShardingRuntime,
    /** `TransfersService.transfer`, `ShardingService.transaction`, for messages. */
    readonly caller: string,
    readonly isolationLevel: IsolationLevel | undefined,
    readonly referenceWrite = false,
  ) {}

  get ended(): boolean {
    return this.state !== 'open';
  }

  endedError(caller: string): InvalidTransactionError {
    return new InvalidTransactionError(
      `${caller} used the cross-shard transaction of ${this.caller} after its callback had finished (it is committed or ` +
        'rolled back); nothing was sent. Await every call inside the transaction callback.',
    );
  }

  join(shard: string, caller: string): Participant | Promise<Participant> {
    if (this.state !== 'open') throw this.endedError(caller);
    const known = this.parts.get(shard);
    if (known) return known.begun ? known : known.opened.then(() => known);
    const node = this.runtime.primaryFor(shard, caller); // ShardUnavailableError at once while it is down
    // a statement still running when the transaction is abandoned (waiting on a lock, say) is cancelled on
    // the server, so its rollback need not wait for it
    const em = node.fork({ signal: this.abandoned.signal, inflightQueryAbortStrategy: 'cancel query' });
    const part: Participant = {
      shard,
      node,
      em,
      begun: false,
      opened: em.begin(this.isolationLevel ? { isolationLevel: this.isolationLevel } : {}).then(
        () => {
          part.begun = true;
        },
        (error: unknown) => {
          // nothing to end on that shard: a later call may try again
          this.parts.delete(shard);
          throw error;
        },
      ),
    };
    this.parts.set(shard, part);
    return part.opened.then(() => part);
  }

  /** Stops new joins and returns the parts with an open transaction, in the configured order of shards. */
  async close(): Promise<Participant[]> {
    this.state = 'ending';
    await Promise.allSettled([...this.parts.values()].map((part) => part.opened));
    const order = this.runtime.shardNames;
    return [...this.parts.values()]
      .filter((part) => part.begun)
      .sort((a, b) => order.indexOf(a.shard) - order.indexOf(b.shard));
  }

  /** Stops new joins, cancels the parts' statements in flight and returns the parts with an open transaction. */
  async abandon(reason: Error): Promise<Participant[]> {
    this.state = 'ending';
    this.abandoned.abort(reason);
    return this.close();
  }

  /**
   * What the commit protocol's frame carries: the transaction's own last statements (flush, PREPARE, the
   * decision) pass the guards that refuse calls left running after the callback.
   */
  protocolView(): FrameTransaction {
    return {
      referenceWrite: this.referenceWrite,
      ended: false,
      join: (_shard, caller) => {
        throw this.endedError(caller);
      },
      endedError: (caller) => this.endedError(caller),
    };
  }
}
