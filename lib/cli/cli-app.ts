import type { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ShardingModuleOptions } from '../module/sharding-options.interface.js';
import { ShardingModule } from '../module/sharding.module.js';
import type { ShardingMigrationsOptions } from '../schema/migration.types.js';
import { ShardingMigrator } from '../schema/sharding-migrator.js';
import { NodeRegistry } from '../topology/node-registry.js';
import { redact } from './output-format.js';

/** The module booted for one CLI command: its migrator, node addresses, and how to close it. */
export interface CliApp {
  migrator: ShardingMigrator;
  shardNames: readonly string[];
  /** Node id → address without password, for every configured node. */
  addresses: Map<string, string>;
  close(): Promise<void>;
}

/** Nest's own messages: errors only, to stderr, passwords removed. */
class CliLogger implements LoggerService {
  constructor(private readonly secrets: readonly string[]) {}
  error(message: unknown, ...rest: unknown[]): void {
    const text = [message, ...rest.filter((part) => typeof part === 'string')].map(String).join(' ');
    process.stderr.write(`${redact(text, this.secrets)}\n`);
  }
  log(): void {}
  warn(): void {}
  debug(): void {}
  verbose(): void {}
}

/**
 * Boots `ShardingModule.forRoot(options)` in an application context (no HTTP, no interceptor). The
 * start-up guard is off here (the CLI is how shards that differ are brought level), and MikroORM's
 * migrator is silent unless the config says `silent: false` (the CLI shows progress per shard itself).
 */
export async function openCliApp(options: ShardingModuleOptions, secrets: readonly string[]): Promise<CliApp> {
  const migrations = (options as { migrations?: ShardingMigrationsOptions }).migrations;
  const moduleOptions = {
    ...options,
    migrations: { ...migrations, silent: migrations?.silent ?? true, verifyOnStart: 'off' as const },
  };
  const app = await NestFactory.createApplicationContext(
    ShardingModule.forRoot({ ...moduleOptions, interceptor: false }),
    { logger: new CliLogger(secrets), abortOnError: false },
  );
  try {
    const registry = app.get(NodeRegistry);
    return {
      migrator: app.get(ShardingMigrator),
      shardNames: registry.shardNames,
      addresses: new Map(registry.nodes.map((node) => [node.id, node.address])),
      close: () => app.close(),
    };
  } catch (error) {
    await app.close();
    throw error;
  }
}
