import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { defineEntity, p, type EntityManager } from '@mikro-orm/postgresql';
import { loadavg } from 'node:os';
import {
  hashStrategy,
  NodeRegistry,
  ShardBy,
  ShardedEntityManager,
  ShardingModule,
  ShardingSchema,
  ShardingService,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { median, ms } from './stats.js';

const WalletSchema = defineEntity({
  name: 'BenchWallet',
  tableName: 'bench_wallets',
  properties: { id: p.string().primary(), balance: p.integer() },
});
class BenchWallet extends WalletSchema.class {}
WalletSchema.setClass(BenchWallet);

const LegSchema = defineEntity({
  name: 'BenchLeg',
  tableName: 'bench_legs',
  properties: { transferId: p.string().primary(), walletId: p.string().primary(), amount: p.integer() },
});
class BenchLeg extends LegSchema.class {}
LegSchema.setClass(BenchLeg);

const SHARDS = ['s0', 's1'];
const WALLETS_PER_SHARD = 200;
const ROUNDS = 5;
const SEQUENTIAL_OPS = 150;
const WORKERS = 8;
const THROUGHPUT_MS = 3_000;

/** The same leg of work in every variant: read the wallet, move its balance, write a leg row. */
async function leg(em: EntityManager, walletId: string, transferId: string, amount: number): Promise<void> {
  const wallet = await em.findOneOrFail(BenchWallet, walletId);
  wallet.balance += amount;
  em.create(BenchLeg, { transferId, walletId, amount });
  await em.flush();
}

@Injectable()
class Wallets {
  constructor(
    private readonly em: ShardedEntityManager,
    readonly sharding: ShardingService,
  ) {}

  /** A leg joining whatever transaction is open around it (the cross-shard one, or none). */
  @ShardBy('walletId')
  async move(walletId: string, transferId: string, amount: number): Promise<void> {
    await leg(this.em, walletId, transferId, amount);
  }

  /** A leg in an ordinary one-shard transaction of its own (the library's em.transactional). */
  @ShardBy('walletId')
  async moveInOwnTransaction(walletId: string, transferId: string, amount: number): Promise<void> {
    await this.em.transactional((em) => leg(em as EntityManager, walletId, transferId, amount));
  }
}

type Variant = (n: number) => Promise<void>;

/**
 * Cross-shard transfers with two-phase commit vs the same two legs committed independently (the cost of
 * atomicity), and a one-shard transaction through `ShardingService.transaction` vs `em.transactional` in a
 * routed method and vs plain MikroORM on the node (the goal: ≤ 1.05×).
 */
export async function transactionsBench(): Promise<string> {
  let topology: EmbeddedTopology | undefined;
  let app: INestApplicationContext | undefined;
  const loadBefore = loadavg()[0];
  try {
    topology = await startEmbeddedTopology({ shards: SHARDS.length, replicasPerShard: 0 });
    app = await NestFactory.createApplicationContext(
      {
        module: class BenchTransactionsModule {},
        imports: [
          ShardingModule.forRoot({
            shards: topology.shards,
            mikroOrm: { entities: [BenchWallet, BenchLeg] },
            transactions: { recoverOnStart: false, recoveryIntervalMs: 0 },
            health: { intervalMs: 60_000 },
          }),
        ],
        providers: [Wallets],
      },
      { logger: false },
    );
    await app.get(ShardingSchema).refresh();
    const wallets = app.get(Wallets);
    const sharding = wallets.sharding;
    const registry = app.get(NodeRegistry);
    const ids: Record<string, string[]> = { s0: [], s1: [] };
    for (let i = 0; ids.s0.length < WALLETS_PER_SHARD || ids.s1.length < WALLETS_PER_SHARD; i++) {
      const id = `w${i}`;
      const shard = hashStrategy().shardFor(id, SHARDS) as string;
      if (ids[shard].length < WALLETS_PER_SHARD) ids[shard].push(id);
    }
    for (const shard of SHARDS) {
      await sharding.run({ shard }, async (em) => {
        for (const id of ids[shard]) em.create(BenchWallet, { id, balance: 1_000_000 });
        await em.flush();
      });
    }
    let seq = 0;
    const pick = (shard: string) => ids[shard][Math.floor(Math.random() * WALLETS_PER_SHARD)];
    const nextId = () => `t${seq++}`;

    const variants: Record<string, Variant> = {
      'cross-shard, two-phase commit (`transaction()`)': async () => {
        const t = nextId();
        await sharding.transaction(async () => {
          await wallets.move(pick('s0'), t, -1);
          await wallets.move(pick('s1'), t, 1);
        });
      },
      'cross-shard, two independent commits (not atomic)': async () => {
        const t = nextId();
        await wallets.moveInOwnTransaction(pick('s0'), t, -1);
        await wallets.moveInOwnTransaction(pick('s1'), t, 1);
      },
      'one shard, `transaction()`': async () => {
        const t = nextId();
        await sharding.transaction(async () => {
          await wallets.move(pick('s1'), t, -1);
        });
      },
      'one shard, `em.transactional` in a routed method': async () => {
        await wallets.moveInOwnTransaction(pick('s1'), nextId(), -1);
      },
      'one shard, plain MikroORM `fork().transactional` on the node': async () => {
        const t = nextId();
        await registry
          .node('s1')
          .orm.em.fork()
          .transactional((em) => leg(em as EntityManager, pick('s1'), t, -1));
      },
    };
    const names = Object.keys(variants);

    // latency: one call at a time; rounds interleave the variants so noise falls on all alike
    const latencies = new Map(names.map((name) => [name, [] as number[]]));
    for (let round = -1; round < ROUNDS; round++) {
      for (const name of names) {
        const samples: number[] = [];
        for (let i = 0; i < SEQUENTIAL_OPS; i++) {
          const started = performance.now();
          await variants[name](i);
          samples.push(performance.now() - started);
        }
        if (round >= 0) latencies.get(name)!.push(median(samples));
      }
    }
    // throughput: WORKERS concurrent callers for THROUGHPUT_MS, the cross-shard pair only
    const throughputNames = names.slice(0, 2);
    const throughput = new Map(throughputNames.map((name) => [name, [] as number[]]));
    for (let round = 0; round < 3; round++) {
      for (const name of throughputNames) {
        let done = 0;
        const until = performance.now() + THROUGHPUT_MS;
        await Promise.all(
          Array.from({ length: WORKERS }, async () => {
            while (performance.now() < until) {
              await variants[name](done);
              done++;
            }
          }),
        );
        throughput.get(name)!.push((done * 1000) / THROUGHPUT_MS);
      }
    }
    const loadAfter = loadavg()[0];
    const lat = (name: string) => median(latencies.get(name)!);
    const [twoPc, independent, oneTx, oneTransactional, onePlain] = names;
    const rate = (name: string) => median(throughput.get(name)!);
    return [
      '### Cross-shard transactions: the cost of atomicity, and one-shard transactions',
      '',
      `2 shards, primaries only (embedded, fast mode: \`fsync = off\`, \`synchronous_commit = off\`: the commit ` +
        'round trips remain, the disk flushes do not; on real disks each PREPARE and COMMIT also waits for its WAL flush). ' +
        `${WALLETS_PER_SHARD} wallets per shard. Each leg reads a wallet, changes its balance and inserts a leg row ` +
        '(one flush). A cross-shard transfer is two legs on two shards. Latency: one call at a time, ' +
        `${SEQUENTIAL_OPS} calls per variant per round, one warm-up round then ${ROUNDS} rounds with the variants ` +
        `interleaved; the table gives the median of the per-round medians. Throughput: ${WORKERS} concurrent callers ` +
        `for ${THROUGHPUT_MS / 1000} s, 3 rounds interleaved, median.`,
      '',
      'Two-phase commit adds to the two ordinary transactions: the coordinator reads its transaction id, the ' +
        'participant runs `PREPARE TRANSACTION`, the decision row is inserted, and `COMMIT PREPARED` runs on the ' +
        'participant after the decision (the decision row is removed without waiting).',
      '',
      '| variant | median latency | ratio |',
      '|---|---|---|',
      `| ${twoPc} | ${ms(lat(twoPc))} | ${(lat(twoPc) / lat(independent)).toFixed(2)} × independent |`,
      `| ${independent} | ${ms(lat(independent))} | 1 |`,
      `| ${oneTx} | ${ms(lat(oneTx))} | ${(lat(oneTx) / lat(oneTransactional)).toFixed(3)} × em.transactional |`,
      `| ${oneTransactional} | ${ms(lat(oneTransactional))} | 1 |`,
      `| ${onePlain} | ${ms(lat(onePlain))} | ${(lat(onePlain) / lat(oneTransactional)).toFixed(3)} × em.transactional |`,
      '',
      `| ${WORKERS} concurrent callers | transfers/s | ratio |`,
      '|---|---|---|',
      `| ${twoPc} | ${rate(twoPc).toFixed(0)} | ${(rate(twoPc) / rate(independent)).toFixed(2)} |`,
      `| ${independent} | ${rate(independent).toFixed(0)} | 1 |`,
      '',
      `- cross-shard transfer latency, 2PC / independent commits: **${(lat(twoPc) / lat(independent)).toFixed(2)}×**`,
      `- cross-shard transfers/s, 2PC / independent commits: **${(rate(twoPc) / rate(independent)).toFixed(2)}×**`,
      `- one-shard \`transaction()\` / \`em.transactional\`: **${(lat(oneTx) / lat(oneTransactional)).toFixed(3)}×** (goal ≤ 1.05)`,
      '',
      `Load average (1 min) before / after: ${loadBefore.toFixed(2)} / ${loadAfter.toFixed(2)}.`,
    ].join('\n');
  } finally {
    await app?.close();
    await topology?.stop();
  }
}
