import type { IsolationLevel } from '@mikro-orm/core';

/** Options of one cross-shard transaction (`ShardingService.transaction(fn, options)`, `@CrossShardTransaction(options)`). */
export interface CrossShardTransactionOptions {
  /** Isolation level of every shard's part. @default the server's (read committed) */
  isolationLevel?: IsolationLevel;
  /**
   * How long `fn` may run; past it every shard's part is rolled back and the call fails with
   * `CrossShardTransactionError` (`outcome: 'aborted'`). @default the module's `transactions.timeoutMs`
   */
  timeoutMs?: number;
}

/** Module option `transactions`: cross-shard transactions and their recovery. */
export interface ShardingTransactionsOptions {
  /** Default bound of a transaction's callback. @default 60000 */
  timeoutMs?: number;
  /**
   * How often an instance looks for prepared transactions a crash left behind (one instance at a time,
   * under an advisory lock); 0 turns the schedule off (`recoverTransactions()` still works).
   * @default 30000
   */
  recoveryIntervalMs?: number;
  /** Look once when the application starts. @default true */
  recoverOnStart?: boolean;
  /**
   * Prepared transactions younger than this are left to the instance running them (it is usually about
   * to commit them). @default 10000
   */
  graceMs?: number;
  /**
   * Check at start that every shard's primary accepts prepared transactions (`max_prepared_transactions`
   * above 0), failing with `ShardingConfigError` when one does not. @default true when the option is given
   * or `referenceEntities` are configured
   */
  verifyOnStart?: boolean;
}

/** `transactions` with the defaults applied (lib/module/sharding-defaults.ts). */
export type TransactionSettings = Required<ShardingTransactionsOptions>;
