/**
 * Named points of the commit protocol where a test can stop the process (SIGKILL) or pause, to prove
 * that recovery settles whatever a crash leaves. Nothing is registered in production: a call costs one
 * check of an undefined variable.
 */
export type TransactionFaultPoint =
  /** A participant answered PREPARE TRANSACTION (others may still be preparing). */
  | 'after-prepare'
  /** Every participant is prepared; the decision is not written yet. */
  | 'before-decision'
  /** The decision row is inserted in the coordinator's transaction, whose COMMIT (the commit point) is next. */
  | 'decision-inserted'
  /** The decision is durable; no participant is committed yet. */
  | 'after-decision'
  /** One participant answered COMMIT PREPARED (others may not have yet). */
  | 'after-commit-prepared';

export type TransactionFaultHandler = (point: TransactionFaultPoint, shard: string) => void | Promise<void>;

let handler: TransactionFaultHandler | undefined;

/** @internal For tests only: called at every fault point (undefined removes it). */
export function setTransactionFaultHandler(next: TransactionFaultHandler | undefined): void {
  handler = next;
}

export function reachFaultPoint(point: TransactionFaultPoint, shard: string): void | Promise<void> {
  return handler?.(point, shard);
}
