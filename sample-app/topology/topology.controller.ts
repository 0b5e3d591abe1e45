import { Controller, Get } from '@nestjs/common';
import { NodeRegistry } from '../../lib/index.js';

/** Shows the topology as the servers themselves report it. */
@Controller('topology')
export class TopologyController {
  constructor(private readonly registry: NodeRegistry) {}

  /** Every shard's nodes: role, address (no password), port, recovery and streaming state. */
  @Get()
  async show() {
    const probes = await this.registry.probe();
    return {
      shards: this.registry.shardNames.map((name) => ({
        name,
        nodes: probes
          .filter((probe) => probe.shard === name)
          .map(({ id, role, address, reachable, serverPort, inRecovery, streaming, error, latencyMs }) => ({
            id,
            role,
            address,
            reachable,
            port: serverPort,
            inRecovery,
            streaming,
            error,
            latencyMs: Math.round(latencyMs * 10) / 10,
          })),
      })),
    };
  }
}
