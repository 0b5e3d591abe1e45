import { MikroORM } from '@mikro-orm/postgresql';
import { NestFactory } from '@nestjs/core';
import { NodeRegistry, ShardingModule } from '../lib/index.js';
import { startEmbeddedTopology } from '../lib/testing/index.js';
import { Order } from '../sample-app/users/order.entity.js';
import { User } from '../sample-app/users/user.entity.js';
import { median, ms, timeRuns } from './stats.js';

/** Start-up costs: embedded topologies, and the module with 12 nodes versus 12 plain MikroORM.init calls. */
export async function startupBench(): Promise<string> {
  const stops2x1: number[] = [];
  const starts2x1 = await timeRuns(5, async () => {
    const topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
    const stopping = performance.now();
    await topology.stop();
    stops2x1.push(performance.now() - stopping);
  }).then((totals) => totals.map((total, i) => total - stops2x1[i]));

  const started4x2 = performance.now();
  const topology = await startEmbeddedTopology({ shards: 4, replicasPerShard: 2 });
  const start4x2 = performance.now() - started4x2;
  try {
    const mikroOrm = { entities: [User, Order] };
    // Side by side, alternating, on the same 12 servers.
    const moduleRuns: number[] = [];
    const plainRuns: number[] = [];
    const firstQueryRuns: number[] = [];
    for (let i = 0; i < 7; i++) {
      let started = performance.now();
      const app = await NestFactory.createApplicationContext(
        ShardingModule.forRoot({ shards: topology.shards, mikroOrm }),
        {
          logger: false,
        },
      );
      moduleRuns.push(performance.now() - started);
      started = performance.now();
      const registry = app.get(NodeRegistry);
      await Promise.all(registry.nodes.map((node) => node.fork().execute('select 1')));
      firstQueryRuns.push(performance.now() - started);
      await app.close();

      started = performance.now();
      const orms = await Promise.all(
        topology.servers.map((server) =>
          MikroORM.init({ ...mikroOrm, ...server.connection, contextName: server.name }),
        ),
      );
      plainRuns.push(performance.now() - started);
      await Promise.all(orms.map((orm) => orm.close(true)));
    }
    const ratio = median(moduleRuns) / median(plainRuns);
    return [
      '### Start-up',
      '',
      '| what | median | runs |',
      '|---|---|---|',
      `| \`startEmbeddedTopology\` 2 shards × (primary + 1 replica), start | ${ms(median(starts2x1))} | ${starts2x1.length} |`,
      `| same, \`stop()\` (servers stopped, folder removed) | ${ms(median(stops2x1))} | ${stops2x1.length} |`,
      `| \`startEmbeddedTopology\` 4 shards × (primary + 2 replicas) = 12 servers, start | ${ms(start4x2)} | 1 |`,
      `| \`ShardingModule.forRoot\` application context, 12 nodes (metadata discovered once) | ${ms(median(moduleRuns))} | ${moduleRuns.length} |`,
      `| 12 × plain \`MikroORM.init\` (each discovers the entities) | ${ms(median(plainRuns))} | ${plainRuns.length} |`,
      `| first query on all 12 nodes after start (opens the pools) | ${ms(median(firstQueryRuns))} | ${firstQueryRuns.length} |`,
      '',
      `Module with 12 nodes / 12 plain inits: **${ratio.toFixed(2)}×** (medians, alternating runs on the same servers).`,
      '',
    ].join('\n');
  } finally {
    await topology.stop();
  }
}
