import { Logger, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ShardingModuleOptions } from '../lib/index.js';
import { AppModule } from './app.module.js';
import { topologyFromEnv } from './topology-from-env.js';

/** A running sample app; `close()` stops the app, then any embedded servers. */
export interface RunningSampleApp {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the topology named by the environment, then the HTTP app on `PORT` (default 3000).
 * `OPERATOR_ENDPOINTS=1` adds `GET /topology` and node detail in `GET /health` (not for the public).
 */
export async function bootstrap(
  env: NodeJS.ProcessEnv = process.env,
  options: Partial<ShardingModuleOptions> = {},
): Promise<RunningSampleApp> {
  const logger = new Logger('SampleApp');
  const topology = await topologyFromEnv(env);
  logger.log(`Topology: ${topology.source}`);
  try {
    const operatorEndpoints = env.OPERATOR_ENDPOINTS === '1' || env.OPERATOR_ENDPOINTS === 'true';
    const app = await NestFactory.create(AppModule.forShards(topology.shards, options, { operatorEndpoints }), {
      logger: ['error', 'warn', 'log'],
    });
    await app.listen(Number(env.PORT ?? 3000), '127.0.0.1');
    const url = await app.getUrl();
    logger.log(`Listening on ${url} — try ${url}/${operatorEndpoints ? 'topology' : 'users'}`);
    return {
      app,
      url,
      async close() {
        await app.close();
        await topology.embedded?.stop();
      },
    };
  } catch (error) {
    await topology.embedded?.stop();
    throw error;
  }
}
