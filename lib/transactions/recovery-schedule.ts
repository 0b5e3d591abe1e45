import { Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { ShardingRuntime } from '../context/sharding-runtime.js';
import { ShardingConfigError } from '../errors/sharding-config.error.js';
import { failureReason } from '../topology/connection-failure.js';
import { recoverTransactions, type RecoveryReport } from './transaction-recovery.js';

/**
 * Runs transaction recovery when the application starts and every `transactions.recoveryIntervalMs`
 * (one instance at a time across the deployment: the run takes an advisory lock), and checks at start
 * that every shard's primary accepts prepared transactions.
 */
export class RecoverySchedule implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('ShardingTransactions');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly runtime: ShardingRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    const settings = this.runtime.settings.transactions;
    if (settings.verifyOnStart) await this.checkPreparedTransactionsAllowed();
    if (settings.recoverOnStart) this.runInBackground();
    if (settings.recoveryIntervalMs > 0) {
      this.timer = setInterval(() => this.runInBackground(), settings.recoveryIntervalMs);
      this.timer.unref();
    }
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private runInBackground(): void {
    if (this.running) return; // the previous run is still going
    this.running = recoverTransactions(this.runtime, this.runtime.settings.transactions.graceMs)
      .then((report) => this.log(report))
      .catch((error: unknown) => this.logger.warn(`Transaction recovery failed: ${failureReason(error)}`))
      .finally(() => (this.running = undefined));
  }

  private log(report: RecoveryReport): void {
    const resolved = report.committed.length + report.rolledBack.length;
    if (resolved) {
      this.logger.log(
        `Recovered ${resolved} prepared part(s) of cross-shard transactions: ${report.committed.length} committed, ` +
          `${report.rolledBack.length} rolled back.`,
      );
    }
    for (const failure of report.failed) {
      this.logger.warn(
        `Transaction recovery: shard "${failure.shard}"${failure.gid ? ` (${failure.gid})` : ''}: ${failure.error}`,
      );
    }
  }

  /** `ShardingConfigError` when a reachable primary has `max_prepared_transactions` = 0. */
  private async checkPreparedTransactionsAllowed(): Promise<void> {
    const problems: string[] = [];
    await Promise.all(
      this.runtime.shardNames.map(async (shard) => {
        const node = this.runtime.registry.acting(shard).primary;
        try {
          const [row] = await node.control.query<{ max_prepared_transactions: string }>(
            'show max_prepared_transactions',
            this.runtime.settings.checkTimeoutMs,
          );
          if (Number(row?.max_prepared_transactions) === 0) {
            problems.push(
              `shard "${shard}": ${node.id} (${node.address}) has max_prepared_transactions = 0, so cross-shard ` +
                'transactions (and reference table writes) cannot prepare there. Set it above 0 on the server and ' +
                'its replicas (e.g. max_prepared_transactions = 64; a restart is needed), or remove the `transactions` option.',
            );
          }
        } catch (error) {
          this.logger.warn(`Could not check max_prepared_transactions on shard "${shard}": ${failureReason(error)}`);
        }
      }),
    );
    if (problems.length) throw new ShardingConfigError(problems);
  }
}
