import { ShardingConfigError } from '../errors/sharding-config.error.js';
import { validateShardingOptions } from './options-validator.js';
import type { ShardingModuleOptions } from './sharding-options.interface.js';

const base: ShardingModuleOptions = {
  shards: { s0: { primary: { clientUrl: 'postgresql://app@db0:5432/app' } } },
  mikroOrm: { entities: [class A {}] },
};

describe('validateShardingOptions: crossShard', () => {
  it('accepts valid settings', () => {
    expect(() =>
      validateShardingOptions({
        ...base,
        crossShard: {
          shardKeys: { User: 'id' },
          concurrency: 4,
          timeoutMs: 2_000,
          onShardFailure: 'partial',
          cursorSecret: 'a-long-enough-secret',
          streamBatchSize: 500,
        },
      }),
    ).not.toThrow();
  });

  it('lists every bad setting in one ShardingConfigError', () => {
    const bad = {
      ...base,
      crossShard: {
        shardKeys: { User: '' },
        concurrency: 0,
        timeoutMs: -1,
        onShardFailure: 'ignore',
        cursorSecret: 'short',
        streamBatchSize: 1.5,
        typo: true,
      },
    } as unknown as ShardingModuleOptions;
    let error: unknown;
    try {
      validateShardingOptions(bad);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ShardingConfigError);
    const text = (error as Error).message;
    for (const part of [
      'crossShard.typo',
      'shardKeys',
      'concurrency',
      'timeoutMs',
      'onShardFailure',
      'cursorSecret',
      'streamBatchSize',
    ]) {
      expect(text).toContain(part);
    }
  });
});

describe('validateShardingOptions: migrations', () => {
  it("accepts MikroORM's migrations settings and the fleet's", () => {
    expect(() =>
      validateShardingOptions({
        ...base,
        migrations: {
          path: './migrations',
          tableName: 'ledger',
          transactional: true,
          canary: 's0',
          concurrency: 8,
          lockTimeoutMs: 1_000,
          replicaTimeoutMs: 5_000,
          verifyOnStart: 'fail',
        },
      }),
    ).not.toThrow();
  });

  it('lists every bad setting in one ShardingConfigError', () => {
    const bad = {
      ...base,
      migrations: {
        canary: 's9',
        concurrency: 0,
        lockTimeoutMs: 1.5,
        replicaTimeoutMs: -1,
        verifyOnStart: 'loud',
        typo: true,
      },
    } as unknown as ShardingModuleOptions;
    expect(() => validateShardingOptions(bad)).toThrow(ShardingConfigError);
    let text = '';
    try {
      validateShardingOptions(bad);
    } catch (error) {
      text = (error as Error).message;
    }
    for (const part of [
      'migrations.typo',
      'migrations.canary must be a configured shard (s0; got "s9")',
      'migrations.concurrency',
      'migrations.lockTimeoutMs',
      'migrations.replicaTimeoutMs',
      "migrations.verifyOnStart must be 'off', 'warn' or 'fail'",
    ]) {
      expect(text).toContain(part);
    }
    expect(() => validateShardingOptions({ ...base, migrations: 'yes' } as unknown as ShardingModuleOptions)).toThrow(
      /migrations must be an object/,
    );
  });
});

describe('validateShardingOptions: the shard lock', () => {
  it('takes lockShard, or its deprecated name alone or agreeing, and refuses anything else', () => {
    expect(() => validateShardingOptions({ ...base, lockShard: true })).not.toThrow();
    expect(() => validateShardingOptions({ ...base, lockRequestToOneShard: true })).not.toThrow();
    expect(() => validateShardingOptions({ ...base, lockShard: true, lockRequestToOneShard: true })).not.toThrow();
    const problems = (options: object) => {
      try {
        validateShardingOptions({ ...base, ...options } as ShardingModuleOptions);
        return [];
      } catch (error) {
        return (error as ShardingConfigError).problems;
      }
    };
    expect(problems({ lockShard: 'yes' })).toEqual(['lockShard must be true or false (got "yes")']);
    expect(problems({ lockShard: false, lockRequestToOneShard: true })).toEqual([
      'lockShard and lockRequestToOneShard (its deprecated name) disagree: keep lockShard only',
    ]);
  });
});
