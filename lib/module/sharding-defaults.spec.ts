import { DEFAULT_ID_LAYOUT } from '../ids/shard-id-layout.js';
import { applyShardingDefaults, SHARDING_DEFAULTS } from './sharding-defaults.js';
import type { ShardingModuleOptions } from './sharding-options.interface.js';

const base: ShardingModuleOptions = {
  shards: { s0: { primary: { clientUrl: 'postgresql://app@db0:5432/app' } } },
  mikroOrm: { entities: [class A {}] },
};

describe('applyShardingDefaults', () => {
  it('fills every unset option from SHARDING_DEFAULTS, without touching the input', () => {
    const input: ShardingModuleOptions = { ...base, readReplicas: {}, crossShard: {} };
    const before = JSON.stringify(input);
    const resolved = applyShardingDefaults(input);
    expect(resolved.strategy).toMatchObject({ name: 'hash(1024 buckets)' });
    expect(resolved.lockShard).toBe(false);
    expect(resolved.readReplicas).toEqual(SHARDING_DEFAULTS.readReplicas);
    expect(resolved.health).toEqual(SHARDING_DEFAULTS.health);
    expect(resolved.ids).toEqual({ workerId: 0, layout: DEFAULT_ID_LAYOUT });
    expect(resolved.crossShard).toEqual({ ...SHARDING_DEFAULTS.crossShard, shardKeys: {} });
    expect(resolved.shardKeys).toEqual({});
    expect(resolved.migrations).toBeUndefined();
    expect(JSON.stringify(input)).toBe(before);
  });

  it('keeps what is set (an undefined entry keeps the default) and derives what depends on it', () => {
    const resolved = applyShardingDefaults({
      ...base,
      readReplicas: { maxLagMs: 500, consistencyHeader: 'X-Token', balancer: undefined },
      health: { timeoutMs: 300 },
      shardKeys: { User: 'id', Order: (o: object) => String(o) },
      crossShard: { maxRows: undefined, shardKeys: { Order: 'userId' } },
      migrations: { canary: 's0', verifyOnStart: 'fail' },
      ids: { layout: { workerBits: 4 } },
    });
    expect(resolved.readReplicas).toMatchObject({
      maxLagMs: 500,
      consistencyHeader: 'x-token',
      balancer: 'round-robin',
    });
    expect(resolved.health).toEqual({ ...SHARDING_DEFAULTS.health, timeoutMs: 300 });
    expect(resolved.crossShard.maxRows).toBe(SHARDING_DEFAULTS.crossShard.maxRows);
    // narrowing needs property keys: the module's, overridden by crossShard's own
    expect(resolved.crossShard.shardKeys).toEqual({ User: 'id', Order: 'userId' });
    expect(resolved.migrations).toEqual({ ...SHARDING_DEFAULTS.migrations, canary: 's0', verifyOnStart: 'fail' });
    expect(resolved.ids.layout).toEqual({ ...DEFAULT_ID_LAYOUT, workerBits: 4 });
  });

  it('folds the deprecated lockRequestToOneShard into lockShard', () => {
    const resolved = applyShardingDefaults({ ...base, lockRequestToOneShard: true });
    expect(resolved.lockShard).toBe(true);
    expect('lockRequestToOneShard' in resolved).toBe(false);
    expect(applyShardingDefaults({ ...base, lockShard: true }).lockShard).toBe(true);
  });
});
