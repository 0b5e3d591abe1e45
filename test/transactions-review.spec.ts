import { Injectable, type INestApplicationContext } from '@nestjs/common';
import {
  CrossShardTransactionError,
  InvalidTransactionError,
  ShardBy,
  ShardingSchema,
  hashStrategy,
} from '../lib/index.js';
import { setTransactionFaultHandler } from '../lib/transactions/fault-points.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { BANK_ENTITIES, BankAccount, Currency } from './support/bank-entities.js';
import { keysOn } from './support/keys.js';
import { BankService } from './support/bank-service.js';
import { TestApps } from './support/test-apps.js';

const SHARDS = ['s0', 's1'];
const shardOf = (id: string) => hashStrategy().shardFor(id, SHARDS) as string;

const idsOn = (shard: string, prefix: string, count = 1) => keysOn(shard, prefix, count, SHARDS);

@Injectable()
class Ledger extends BankService {
  /** A statement that fails on the account's shard, its error caught (an "insert if absent" done badly). */
  @ShardBy('id')
  async failQuietly(id: string): Promise<void> {
    void id; // routes the call
    try {
      await this.em.execute('select 1 / 0');
    } catch {
      // ignored by the application
    }
  }

  /** Starts a cross-shard transaction from inside a local transaction of the account's shard. */
  @ShardBy('id')
  async transferInsideLocal(id: string, other: string): Promise<void> {
    await this.em.transactional(async () => {
      const account = await this.em.findOneOrFail(BankAccount, id);
      account.balance -= 1;
      await this.em.flush(); // the local transaction holds the row
      await this.sharding.transaction(async () => {
        await this.move(id, 't-inside', -1);
        await this.move(other, 't-inside', 1);
      });
      throw new Error('the local transaction fails after the cross-shard one committed');
    });
  }

  /** Persists a duplicate of an existing account without flushing: the commit's flush fails. */
  @ShardBy('id')
  async createUnflushed(id: string): Promise<void> {
    this.em.create(BankAccount, { id, balance: 1 });
  }
}

describe('cross-shard transactions: review (2 shards, real servers)', () => {
  let topology: EmbeddedTopology;
  let apps: TestApps;
  let app: INestApplicationContext;
  let ledger: Ledger;

  const balanceOn = async (id: string) =>
    (
      await topology
        .server(shardOf(id))
        .query<{ balance: number }>('select balance from bank_accounts where id = $1', [id])
    )[0]?.balance;
  const ourPrepared = async (shard: string) =>
    (
      await topology.server(shard).query<{ gid: string }>("select gid from pg_prepared_xacts where gid like 'nms:%'")
    ).map((r) => r.gid);
  /** Sessions of the application left inside a transaction (a connection not returned to the pool). */
  const openTransactionsOn = async (shard: string) =>
    (
      await topology
        .server(shard)
        .query(
          "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state like 'idle in transaction%'",
        )
    ).length;

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 0 });
    apps = new TestApps(() => topology.shards, [Ledger], {
      mikroOrm: { entities: BANK_ENTITIES },
      shardKeys: { BankAccount: 'id', TransferLeg: 'accountId' },
      referenceEntities: [Currency],
      transactions: { recoverOnStart: false, recoveryIntervalMs: 0 },
      health: { intervalMs: 60_000 },
    });
    app = await apps.start();
    await app.get(ShardingSchema).refresh();
    ledger = app.get(Ledger);
  });

  afterEach(() => setTransactionFaultHandler(undefined));

  afterAll(async () => {
    await apps?.closeAll();
    await topology?.stop();
  });

  it('does not commit the coordinator when a participant transaction was aborted by a caught error', async () => {
    const [from] = idsOn('s0', 'abort');
    const [to] = idsOn('s1', 'abort');
    await ledger.open(from, 100);
    await ledger.open(to, 100);
    // s1's part wrote, then a statement failed there and the application caught it: PostgreSQL aborted
    // that transaction, so its PREPARE TRANSACTION rolls back (command tag ROLLBACK, no error)
    const error = await ledger.sharding
      .transaction(async () => {
        await ledger.move(from, 't-abort', -10);
        await ledger.move(to, 't-abort', 10);
        await ledger.failQuietly(to);
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrossShardTransactionError);
    expect(error).toMatchObject({ outcome: 'aborted' });
    // all or nothing: neither shard changed
    expect([await balanceOn(from), await balanceOn(to)]).toEqual([100, 100]);
    expect([...(await ourPrepared('s0')), ...(await ourPrepared('s1'))]).toEqual([]);
    expect([await openTransactionsOn('s0'), await openTransactionsOn('s1')]).toEqual([0, 0]);
  });

  it('returns the connection when a one-shard transaction fails at commit', async () => {
    const [id] = idsOn('s1', 'dup');
    await ledger.open(id, 5);
    const error = await ledger.sharding
      .transaction(async () => {
        await ledger.createUnflushed(id); // INSERT at the commit's flush: duplicate key
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).toMatch(/duplicate key/);
    expect(await openTransactionsOn('s1')).toBe(0);
  });

  it('honours timeoutMs while a statement of the callback waits on a lock', async () => {
    const [a] = idsOn('s0', 'lockwait');
    const [b] = idsOn('s1', 'lockwait');
    await ledger.open(a, 10);
    await ledger.open(b, 10);
    // another session holds b's row for 6 s
    const holder = topology
      .server('s1')
      .query(`begin; update bank_accounts set balance = balance where id = '${b}'; select pg_sleep(6); commit`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    const error = await ledger.sharding
      .transaction(
        async () => {
          await ledger.move(a, 't-lockwait', -1);
          await ledger.move(b, 't-lockwait', 1); // waits on the row lock
        },
        { timeoutMs: 500 },
      )
      .catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    await holder;
    expect(error).toBeInstanceOf(CrossShardTransactionError);
    expect(error).toMatchObject({ outcome: 'aborted' });
    expect(elapsed).toBeLessThan(3_000);
    expect([await balanceOn(a), await balanceOn(b)]).toEqual([10, 10]);
    expect([await openTransactionsOn('s0'), await openTransactionsOn('s1')]).toEqual([0, 0]);
  });

  it('refuses a cross-shard transaction started inside em.transactional() on a shard', async () => {
    const [a] = idsOn('s0', 'inside');
    const [b] = idsOn('s1', 'inside');
    await ledger.open(a, 10);
    await ledger.open(b, 10);
    const error = await ledger.transferInsideLocal(a, b).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidTransactionError);
    expect([await balanceOn(a), await balanceOn(b)]).toEqual([10, 10]);
    expect([await openTransactionsOn('s0'), await openTransactionsOn('s1')]).toEqual([0, 0]);
  });
});
