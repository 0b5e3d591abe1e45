import { Logger } from '@nestjs/common';
import type { NodeRegistry } from '../topology/node-registry.js';
import type { ShardNode } from '../topology/shard-node.js';
import { failureReason } from './connection-failure.js';
import { HEALTH_DEFAULTS, type HealthMonitorOptions } from './health-options.js';
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
    this.intervalMs = options.intervalMs ?? HEALTH_DEFAULTS.intervalMs;
    this.timeoutMs = options.timeoutMs ?? HEALTH_DEFAULTS.timeoutMs;
    this.enabled = options.enabled ?? HEALTH_DEFAULTS.enabled;
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
      this.logger.warn(`shard ${shard}: writes now go to ${this.registry.current(shard).primary.id} (promoted)`);
    }
  }

  private async check(node: ShardNode): Promise<void> {
    const { health } = node;
    try {
      const seen = await checkNode(node, this.timeoutMs);
      if (health.status === 'down') this.logger.log(`${node.id} answers again`);
      health.inRecovery = seen.inRecovery;
      health.lagMs = seen.lagMs;
      if (seen.lsn !== undefined) health.advanceLsn(seen.lsn);
      health.markUp();
    } catch (error) {
      if (health.status !== 'down') this.logger.warn(`${node.id} (${node.address}) is down: ${failureReason(error)}`);
      health.markDown(failureReason(error));
      health.checkedAt = Date.now();
    }
  }
}
