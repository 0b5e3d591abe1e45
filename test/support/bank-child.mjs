// Child process of test/transactions-bank.spec.ts: the application that gets killed. Runs the TypeScript
// sources through ts-decorators-loader.mjs, boots the sharding module, then `workers` concurrent loops
// of random cross-shard transfers (`ShardingService.transaction()`), one JSON line per outcome on stdout.
// Armed with BANK_CHILD.killPoint, it SIGKILLs itself at that fault point of the commit protocol once
// `killAfter` transfers have started. "stop" on stdin ends it cleanly.
import { register } from 'node:module';
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';

register(new URL('./ts-decorators-loader.mjs', import.meta.url));
await import('reflect-metadata');
const { NestFactory } = await import('@nestjs/core');
const { ShardingModule, ShardingService, CrossShardTransactionError, hashStrategy } =
  await import('../../lib/index.ts');
const { setTransactionFaultHandler } = await import('../../lib/transactions/fault-points.ts');
const { BANK_ENTITIES, TransferLeg } = await import('./bank-entities.ts');

const options = JSON.parse(process.env.BANK_CHILD);
const { shards, accounts, workers, killPoint, killAfter, run, maxRunMs } = options;
/** Synchronous: a line written just before SIGKILL must reach the parent. */
const emit = (line) => writeSync(1, JSON.stringify(line) + '\n');

const app = await NestFactory.createApplicationContext(
  ShardingModule.forRoot({
    shards,
    mikroOrm: { entities: BANK_ENTITIES },
    shardKeys: { BankAccount: 'id', TransferLeg: 'accountId' },
    transactions: { recoverOnStart: false, recoveryIntervalMs: 0 },
  }),
  { logger: false },
);
const sharding = app.get(ShardingService);
const names = Object.keys(shards);
const strategy = hashStrategy();
const shardOf = (id) => strategy.shardFor(id, names);

let started = 0;
let inFlight = 0;
let stopping = false;
setTransactionFaultHandler((point, shard) => {
  if (point !== killPoint || started < killAfter) return;
  emit({ kind: 'kill', point, shard, run, started, inFlight });
  process.kill(process.pid, 'SIGKILL');
});

const random = (n) => Math.floor(Math.random() * n);
function pickPair() {
  for (;;) {
    const from = accounts[random(accounts.length)];
    const to = accounts[random(accounts.length)];
    if (shardOf(from) !== shardOf(to)) return [from, to];
  }
}

/** One leg: the balance moves and a leg row is written, on the account's shard (joining the transaction). */
function leg(id, transferId, amount) {
  return sharding.run({ key: id }, async (em) => {
    // a row locked by a prepared part nobody has resolved yet must not hang the worker
    await em.execute("set local lock_timeout = '2s'");
    const updated = await em.execute('update bank_accounts set balance = balance + ? where id = ? returning id', [
      amount,
      id,
    ]);
    if (updated.length !== 1) throw new Error(`account ${id} not found`);
    em.create(TransferLeg, { transferId, accountId: id, amount });
    await em.flush();
  });
}

async function worker(w) {
  for (let seq = 0; !stopping; seq++) {
    const [from, to] = pickPair();
    const amount = 1 + random(100);
    const id = `r${run}-w${w}-${seq}`;
    // legs in account order: two live transfers never wait on each other in a cycle across shards
    const legs = [
      [from, -amount],
      [to, amount],
    ].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    started++;
    inFlight++;
    try {
      await sharding.transaction(
        async () => {
          for (const [account, delta] of legs) await leg(account, id, delta);
        },
        { timeoutMs: 15_000 },
      );
      emit({ kind: 'ok', id });
    } catch (error) {
      emit({
        kind: 'error',
        id,
        name: error?.constructor?.name ?? typeof error,
        outcome: error instanceof CrossShardTransactionError ? error.outcome : undefined,
        message: String(error?.message ?? error).slice(0, 300),
      });
      await new Promise((resolve) => setTimeout(resolve, 20)); // a shard that is down: do not spin
    } finally {
      inFlight--;
    }
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'stop') stopping = true;
});
const limit = setTimeout(() => (stopping = true), maxRunMs);
emit({ kind: 'ready', run });
await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
clearTimeout(limit);
emit({ kind: 'done', run, started, reached: false });
setTransactionFaultHandler(undefined);
lines.close();
await app.close();
process.exit(0);
