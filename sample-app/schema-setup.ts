import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ShardingSchema } from '../lib/index.js';

/** Development convenience: brings every shard's tables up to date when the app starts. */
@Injectable()
export class SchemaSetup implements OnApplicationBootstrap {
  constructor(private readonly schema: ShardingSchema) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schema.update();
  }
}
