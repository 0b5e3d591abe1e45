import type { INestApplicationContext, Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ShardingModule, type ShardingModuleOptions, type ShardsConfig } from '../../lib/index.js';
import { Account } from './entities.js';

/**
 * Nest applications of one spec file on one topology: `start()` boots another with the sharding module
 * (Account entity, `defaults` then `options`) and `providers`; `closeAll()` in `afterAll` closes them.
 */
export class TestApps {
  private readonly open: INestApplicationContext[] = [];

  constructor(
    private readonly shards: () => ShardsConfig,
    private readonly providers: Provider[],
    private readonly defaults: Partial<ShardingModuleOptions> = {},
  ) {}

  async start(options: Partial<ShardingModuleOptions> = {}): Promise<INestApplicationContext> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ShardingModule.forRoot({
          shards: this.shards(),
          mikroOrm: { entities: [Account] },
          ...this.defaults,
          ...options,
        }),
      ],
      providers: this.providers,
    }).compile();
    const app = await moduleRef.init();
    this.open.push(app);
    return app;
  }

  /** Closes `app` now (a test that measures its shutdown). */
  async close(app: INestApplicationContext): Promise<void> {
    this.open.splice(this.open.indexOf(app), 1);
    await app.close();
  }

  async closeAll(): Promise<void> {
    for (const app of this.open.splice(0)) await app.close();
  }
}
