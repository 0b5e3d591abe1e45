import { Logger } from '@nestjs/common';
import type { NodeRegistry } from '../topology/node-registry.js';
import type { ShardNode } from '../topology/shard-node.js';
import { failureReason } from '../topology/connection-failure.js';
import { SHARDING_DEFAULTS } from '../module/sharding-defaults.js';
import type { HealthMonitorOptions } from './health-options.js';
import { checkNode } from './node-check.js';
import { discoverPrimaries } from './primary-discovery.js';

/**
 * Checks every node in the background: role (`pg_is_in_recovery()`), WAL position and replay lag. A
 * failed or timed-out check opens the node's circuit (routing skips it); the next successful check
 * closes it. After each round it follows promotions (see `discoverPrimaries`). Started when the
 * application starts (the first round is awaited, so routing starts with real states), stopped on shutdown.
 */
export class ReplicationMonitor {
  private readonly logger = new Logger('ShardingHealth');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly enabled: boolean;

  constructor(
    private readonly registry: NodeRegistry,
    options: HealthMonitorOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? SHARDING_DEFAULTS.health.intervalMs;
    this.timeoutMs = options.timeoutMs ?? SHARDING_DEFAULTS.health.timeoutMs;
    this.enabled = options.enabled ?? SHARDING_DEFAULTS.health.enabled;
    // every change of a node's circuit is logged once, whoever noticed it (a failed statement or a check)
    for (const node of registry.nodes) {
      node.health.onChange = (status, reason) => {
        if (status === 'down') this.logger.warn(`${node.id} (${node.address}) is down: ${reason}`);
        else this.logger.log(`${node.id} (${node.address}) answers again`);
      };
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled || !this.stopped) return;
    this.stopped = false;
    await this.checkNow();
    this.schedule();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Runs a round that starts now (after the one in progress, if any): its states are at least this fresh. */
  async checkNow(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.checkNow().finally(() => this.schedule()), this.intervalMs);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    await Promise.all(this.registry.nodes.map((node) => this.check(node)));
    for (const shard of discoverPrimaries(this.registry)) {
      this.logger.warn(`shard ${shard}: writes now go to ${this.registry.acting(shard).primary.id} (promoted)`);
    }
  }

  private async check(node: ShardNode): Promise<void> {
    const { health } = node;
    try {
      const seen = await checkNode(node, this.timeoutMs);
      health.inRecovery = seen.inRecovery;
      health.lagMs = seen.lagMs;
      if (seen.lsn !== undefined) health.advanceLsn(seen.lsn);
      health.markUp();
    } catch (error) {
      health.markDown(failureReason(error));
      health.checkedAt = Date.now();
    }
  }
}
