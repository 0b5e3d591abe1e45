import { IsolationLevel } from '@mikro-orm/core';
import { Injectable, type INestApplicationContext } from '@nestjs/common';
import {
  CrossShardTransaction,
  CrossShardTransactionError,
  InvalidTransactionError,
  ReadReplica,
  ReferenceTables,
  ReferenceWriteError,
  ReplicationMonitor,
  ShardBy,
  ShardingConfigError,
  ShardingSchema,
  ShardingService,
  NodeRegistry,
  UnknownNodeError,
  hashStrategy,
} from '../lib/index.js';
import { setTransactionFaultHandler } from '../lib/transactions/fault-points.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { BANK_ENTITIES, Currency } from './support/bank-entities.js';
import { keysOn, settles } from './support/keys.js';
import { BankService } from './support/bank-service.js';
import { TestApps } from './support/test-apps.js';
import { whereAmI } from './support/where.js';

const SHARDS = ['s0', 's1'];
const shardOf = (id: string) => hashStrategy().shardFor(id, SHARDS) as string;
const idsOn = (shard: string, prefix: string, count = 1) => keysOn(shard, prefix, count, SHARDS);

@Injectable()
class Bank extends BankService {
  @ShardBy('id')
  @ReadReplica()
  async look(id: string): Promise<{ balance: number; port: number; recovery: boolean }> {
    const [row] = await this.em.execute<{ balance: number }[]>('select balance from bank_accounts where id = ?', [id]);
    return { balance: row.balance, ...(await whereAmI(this.em)) };
  }

  @CrossShardTransaction()
  async transfer(from: string, to: string, amount: number, transferId: string): Promise<void> {
    await this.move(from, transferId, -amount);
    await this.move(to, transferId, amount);
  }

  @ShardBy('id')
  async renameCurrency(id: string, code: string): Promise<void> {
    const currency = await this.em.findOneOrFail(Currency, code);
    currency.name = `${currency.name} (renamed by ${id})`;
    await this.em.flush();
  }

  /** A local join of a sharded entity with a reference entity, on the account's shard. */
  @ShardBy('id')
  @ReadReplica()
  async withCurrency(id: string, code: string): Promise<{ id: string; currency: string; port: number }[]> {
    const rows = await this.em.execute<{ id: string; currency: string }[]>(
      'select a.id, c.name as currency from bank_accounts a join currencies c on c.code = ? where a.id = ?',
      [code, id],
    );
    const { port } = await whereAmI(this.em);
    return rows.map((row) => ({ ...row, port }));
  }
}

describe('cross-shard transactions (2 shards × 1 replica, real servers)', () => {
  let topology: EmbeddedTopology;
  let apps: TestApps;
  let app: INestApplicationContext;
  let bank: Bank;
  const prepares = new Map<string, number>(); // server name → PREPARE TRANSACTION statements logged

  const ourPrepared = async (shard: string) =>
    (
      await topology.server(shard).query<{ gid: string }>("select gid from pg_prepared_xacts where gid like 'nms:%'")
    ).map((r) => r.gid);
  const balanceOn = async (id: string) =>
    (
      await topology
        .server(shardOf(id))
        .query<{ balance: number }>('select balance from bank_accounts where id = $1', [id])
    )[0]?.balance;
  const legsOn = async (shard: string, transferId: string) =>
    (await topology.server(shard).query('select account_id from transfer_legs where transfer_id = $1', [transferId]))
      .length;

  beforeAll(async () => {
    topology = await startEmbeddedTopology({
      shards: 2,
      replicasPerShard: 1,
      settings: { log_statement: 'all' },
      onLog: (node, line) => {
        if (/PREPARE TRANSACTION/i.test(line)) prepares.set(node, (prepares.get(node) ?? 0) + 1);
      },
    });
    apps = new TestApps(() => topology.shards, [Bank], {
      mikroOrm: { entities: BANK_ENTITIES },
      shardKeys: { BankAccount: 'id', TransferLeg: 'accountId' },
      referenceEntities: [Currency],
      transactions: { recoverOnStart: false, recoveryIntervalMs: 0 },
      health: { intervalMs: 60_000 },
    });
    app = await apps.start();
    await app.get(ShardingSchema).refresh();
    bank = app.get(Bank);
  });

  afterEach(() => setTransactionFaultHandler(undefined));

  afterAll(async () => {
    await apps?.closeAll();
    await topology?.stop();
  });

  const totalPrepares = () => [...prepares.values()].reduce((a, b) => a + b, 0);

  it('commits a transfer on both shards atomically, with PREPARE on the participant only', async () => {
    const [from] = idsOn('s0', 'a');
    const [to] = idsOn('s1', 'a');
    await bank.open(from, 100);
    await bank.open(to, 100);
    const before = totalPrepares();
    const seen: { port: number; inTransaction: boolean }[] = [];
    await bank.sharding.transaction(async () => {
      seen.push(await bank.move(from, 't1', -30));
      seen.push(await bank.move(to, 't1', 30));
    });
    // each leg ran inside a transaction on its shard's primary
    expect(seen).toEqual([
      { port: topology.server('s0').port, inTransaction: true },
      { port: topology.server('s1').port, inTransaction: true },
    ]);
    expect([await balanceOn(from), await balanceOn(to)]).toEqual([70, 130]);
    expect([await legsOn('s0', 't1'), await legsOn('s1', 't1')]).toEqual([1, 1]);
    // s0 decided (its local commit is the commit point); s1 prepared
    await settles(() => expect(totalPrepares()).toBe(before + 1));
    expect(await ourPrepared('s0')).toEqual([]);
    expect(await ourPrepared('s1')).toEqual([]);
    await settles(async () =>
      expect(await topology.server('s0').query('select * from sharding_transactions')).toEqual([]),
    );
  });

  it('sends no PREPARE for a transaction that touched one shard', async () => {
    const [a, b] = idsOn('s1', 'one', 2);
    await bank.open(a, 10);
    await bank.open(b, 10);
    const before = totalPrepares();
    await bank.transfer(a, b, 5, 't-one');
    expect([await balanceOn(a), await balanceOn(b)]).toEqual([5, 15]);
    // a later two-shard transfer's PREPARE shows up in the same log: the log is read, not assumed
    const [x] = idsOn('s0', 'one');
    await bank.open(x, 10);
    await bank.transfer(x, a, 1, 't-two');
    await settles(() => expect(totalPrepares()).toBe(before + 1));
  });

  it('rolls back every shard when the callback throws after writing on both', async () => {
    const [from] = idsOn('s0', 'rb');
    const [to] = idsOn('s1', 'rb');
    await bank.open(from, 50);
    await bank.open(to, 50);
    const failure = new Error('business rule');
    await expect(
      bank.sharding.transaction(async () => {
        await bank.move(from, 't-rb', -10);
        await bank.move(to, 't-rb', 10);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect([await balanceOn(from), await balanceOn(to)]).toEqual([50, 50]);
    expect([await legsOn('s0', 't-rb'), await legsOn('s1', 't-rb')]).toEqual([0, 0]);
    expect([...(await ourPrepared('s0')), ...(await ourPrepared('s1'))]).toEqual([]);
  });

  it('reads the primary inside a transaction, seeing its own uncommitted writes', async () => {
    const [id] = idsOn('s1', 'rr');
    await bank.open(id, 40);
    const outside = await settles(async () => {
      const read = await bank.look(id);
      expect(read.recovery).toBe(true); // outside: a replica
      return read;
    });
    expect(outside.balance).toBe(40);
    const [other] = idsOn('s0', 'rr');
    await bank.open(other, 0);
    const inside = await bank.sharding.transaction(async () => {
      await bank.move(id, 't-rr', -15);
      await bank.move(other, 't-rr', 15);
      return bank.look(id);
    });
    expect(inside).toEqual({ balance: 25, port: topology.server('s1').port, recovery: false });
  });

  it('reads its own cross-shard writes afterwards in the same context, with both replicas behind', async () => {
    const [from] = idsOn('s0', 'ryw');
    const [to] = idsOn('s1', 'ryw');
    await bank.open(from, 60);
    await bank.open(to, 60);
    await settles(async () => expect((await bank.look(to)).recovery).toBe(true));
    const replicas = SHARDS.map((shard) => topology.server(shard, 'replica', 0));
    for (const replica of replicas) await replica.query('select pg_wal_replay_pause()');
    try {
      const after = await bank.sharding.withContext(async () => {
        await bank.transfer(from, to, 20, 't-ryw');
        return [await bank.look(from), await bank.look(to)];
      });
      // the replicas have not replayed the transfer: the context's recorded positions send both reads to the primaries
      expect(after).toEqual([
        { balance: 40, port: topology.server('s0').port, recovery: false },
        { balance: 80, port: topology.server('s1').port, recovery: false },
      ]);
      // a context without those positions reads the stale replicas: the check above can fail
      expect(await bank.look(to)).toMatchObject({ balance: 60, recovery: true });
    } finally {
      for (const replica of replicas) await replica.query('select pg_wal_replay_resume()');
    }
  });

  it('commits through recovery what a crash after the decision left prepared', async () => {
    const [from] = idsOn('s0', 'cr');
    const [to] = idsOn('s1', 'cr');
    await bank.open(from, 100);
    await bank.open(to, 100);
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    setTransactionFaultHandler((point) => (point === 'after-decision' ? hung : undefined));
    const stuck = bank.transfer(from, to, 25, 't-cr');
    await settles(async () => expect(await ourPrepared('s1')).toHaveLength(1));
    // the decision is durable, s1 has not been told: the old value shows there
    expect([await balanceOn(from), await balanceOn(to)]).toEqual([75, 100]);
    const health = app.get(NodeRegistry);
    const report = await bank.sharding.recoverTransactions({ graceMs: 0 });
    expect(report).toMatchObject({ ran: true, rolledBack: [], unresolved: { s0: 0, s1: 0 } });
    expect(report.committed.map((part) => part.shard)).toEqual(['s1']);
    expect(health.health().find((node) => node.id === 's1/primary')!.preparedTransactions).toBe(0);
    expect([await balanceOn(from), await balanceOn(to)]).toEqual([75, 125]);
    release();
    await stuck; // its own COMMIT PREPARED finds the part already committed: still a success
  });

  it('rolls back through recovery what a crash before the decision left prepared', async () => {
    const [from] = idsOn('s0', 'cb');
    const [to] = idsOn('s1', 'cb');
    await bank.open(from, 100);
    await bank.open(to, 100);
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    setTransactionFaultHandler((point) => (point === 'before-decision' ? hung : undefined));
    const stuck = bank.transfer(from, to, 25, 't-cb');
    await settles(async () => expect(await ourPrepared('s1')).toHaveLength(1));
    // the deciding transaction is still open on s0: recovery must wait, not guess
    const early = await bank.sharding.recoverTransactions({ graceMs: 0 });
    expect(early.waiting.map((part) => part.shard)).toEqual(['s1']);
    expect(early.committed.length + early.rolledBack.length).toBe(0);
    // the process "dies": its connection to s0 goes, so the deciding transaction aborts
    await topology
      .server('s0')
      .query(
        "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state = 'idle in transaction'",
      );
    const report = await settles(async () => {
      const r = await bank.sharding.recoverTransactions({ graceMs: 0 });
      expect(r.rolledBack.map((part) => part.shard)).toEqual(['s1']);
      return r;
    });
    expect(report.committed).toEqual([]);
    release();
    await expect(stuck).rejects.toBeInstanceOf(CrossShardTransactionError);
    expect([await balanceOn(from), await balanceOn(to)]).toEqual([100, 100]);
    expect([await legsOn('s0', 't-cb'), await legsOn('s1', 't-cb')]).toEqual([0, 0]);
  });

  it('resolves each prepared part once when two instances recover at the same time', async () => {
    const second = await apps.start();
    const pairs = Array.from({ length: 6 }, (_, i) => [idsOn('s0', `two${i}`)[0], idsOn('s1', `two${i}`)[0]]);
    for (const [a, b] of pairs) {
      await bank.open(a, 10);
      await bank.open(b, 10);
    }
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    setTransactionFaultHandler((point) => (point === 'after-decision' ? hung : undefined));
    const stuck = pairs.map(([a, b], i) => bank.transfer(a, b, 3, `t-two-${i}`));
    await settles(async () => expect(await ourPrepared('s1')).toHaveLength(6));
    const reports = await Promise.all([
      bank.sharding.recoverTransactions({ graceMs: 0 }),
      second.get(ShardingService).recoverTransactions({ graceMs: 0 }),
    ]);
    const committed = reports.flatMap((r) => r.committed.map((part) => part.gid));
    expect(committed).toHaveLength(6);
    expect(new Set(committed).size).toBe(6);
    expect(await ourPrepared('s1')).toEqual([]);
    release();
    await Promise.all(stuck);
    for (const [a, b] of pairs) expect([await balanceOn(a), await balanceOn(b)]).toEqual([7, 13]);
    await apps.close(second);
  });

  it('names misuse: nesting, a callback that is not async, an unknown shard, a synchronous method', async () => {
    const [a] = idsOn('s0', 'err');
    const [b] = idsOn('s1', 'err');
    await bank.open(a, 10);
    await bank.open(b, 10);
    await expect(
      bank.sharding.transaction(async () => {
        await bank.move(a, 't-nest', -1);
        await bank.sharding.transaction(async () => undefined);
      }),
    ).rejects.toThrow(InvalidTransactionError);
    let stray: Promise<unknown> | undefined;
    await expect(
      bank.sharding.transaction((() => {
        stray = bank.move(a, 't-sync', -1);
      }) as never),
    ).rejects.toThrow(/instead of a Promise/);
    // the call it left running is refused, not committed on its own
    await expect(stray).rejects.toThrow(/after its callback had finished/);
    await expect(
      bank.sharding.transaction(async () => {
        await bank.move(a, 't-unknown', -1);
        await bank.sharding.run({ shard: 'nope' }, async () => undefined);
      }),
    ).rejects.toThrow(UnknownNodeError);
    expect(await balanceOn(a)).toBe(10);
    expect(await legsOn('s0', 't-nest')).toBe(0);
    expect(() => {
      class Sync {
        @CrossShardTransaction()
        run(): number {
          return 1;
        }
      }
      return Sync;
    }).toThrow(/synchronous/);
  });

  it("says 'unknown' when the deciding shard dies during its COMMIT, and every shard ends it the same way", async () => {
    const [from] = idsOn('s0', 'unk');
    const [to] = idsOn('s1', 'unk');
    await bank.open(from, 100);
    await bank.open(to, 100);
    // fast mode (synchronous_commit off) would lose the accounts with the server's WAL buffers
    await topology.server('s0').query('checkpoint');
    // the decision row is inserted; the coordinator's server dies before its COMMIT is answered
    setTransactionFaultHandler(async (point) => {
      if (point === 'decision-inserted') await topology.server('s0').kill('SIGKILL');
    });
    const error = await bank.transfer(from, to, 40, 't-unk').catch((e: unknown) => e);
    setTransactionFaultHandler(undefined);
    expect(error).toBeInstanceOf(CrossShardTransactionError);
    expect(error).toMatchObject({ outcome: 'unknown', shards: ['s0', 's1'], pendingShards: ['s1'] });
    await topology.server('s0').start();
    await app.get(ReplicationMonitor).checkNow();
    // the COMMIT never reached the server: crash recovery aborted the coordinator, so recovery rolls s1 back
    const report = await settles(async () => {
      const r = await bank.sharding.recoverTransactions({ graceMs: 0 });
      expect(r.unresolved).toEqual({ s0: 0, s1: 0 });
      return r;
    }, 20_000);
    expect(report.rolledBack.map((part) => part.shard)).toEqual(['s1']);
    expect([await balanceOn(from), await balanceOn(to)]).toEqual([100, 100]);
    expect([await legsOn('s0', 't-unk'), await legsOn('s1', 't-unk')]).toEqual([0, 0]);
  });

  it('opens every part at the isolation level asked for', async () => {
    const [a] = idsOn('s0', 'iso');
    const [b] = idsOn('s1', 'iso');
    const levels = await bank.sharding.transaction(
      async () =>
        Promise.all(
          [a, b].map((key) =>
            bank.sharding.run({ key }, async (em) => {
              const [row] = await em.execute<{ level: string }[]>(
                "select current_setting('transaction_isolation') as level",
              );
              return row.level;
            }),
          ),
        ),
      { isolationLevel: IsolationLevel.SERIALIZABLE },
    );
    expect(levels).toEqual(['serializable', 'serializable']);
  });

  it("says 'committed' when a participant cannot be told, and recovery finishes it", async () => {
    const [from] = idsOn('s0', 'pend');
    const [to] = idsOn('s1', 'pend');
    await bank.open(from, 100);
    await bank.open(to, 100);
    // the decision is durable on s0; then s1 goes away before its COMMIT PREPARED
    setTransactionFaultHandler(async (point) => {
      if (point === 'after-decision') await topology.server('s1').stop();
    });
    const error = await bank.transfer(from, to, 30, 't-pend').catch((e: unknown) => e);
    setTransactionFaultHandler(undefined);
    expect(error).toBeInstanceOf(CrossShardTransactionError);
    expect(error).toMatchObject({ outcome: 'committed', shards: ['s0', 's1'], pendingShards: ['s1'] });
    await topology.server('s1').start();
    await app.get(ReplicationMonitor).checkNow();
    // the prepared part survived the restart; until recovery commits it, s1 shows the old balance
    expect(await ourPrepared('s1')).toHaveLength(1);
    expect([await balanceOn(from), await balanceOn(to)]).toEqual([70, 100]);
    const report = await bank.sharding.recoverTransactions({ graceMs: 0 });
    expect(report.committed.map((part) => part.shard)).toEqual(['s1']);
    expect([await balanceOn(from), await balanceOn(to)]).toEqual([70, 130]);
    expect([await legsOn('s0', 't-pend'), await legsOn('s1', 't-pend')]).toEqual([1, 1]);
  });

  it('recovers on its schedule, with no call', async () => {
    const scheduled = await apps.start({
      transactions: { recoverOnStart: false, recoveryIntervalMs: 200, graceMs: 1 },
    });
    const [from] = idsOn('s0', 'sched');
    const [to] = idsOn('s1', 'sched');
    await bank.open(from, 100);
    await bank.open(to, 100);
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    setTransactionFaultHandler((point) => (point === 'after-decision' ? hung : undefined));
    const stuck = bank.transfer(from, to, 10, 't-sched');
    await settles(async () => expect(await balanceOn(to)).toBe(110), 15_000); // committed by the schedule
    expect(await ourPrepared('s1')).toEqual([]);
    release();
    await stuck;
    await apps.close(scheduled);
  });

  it('rolls back every shard when the callback runs past its timeout', async () => {
    const [a] = idsOn('s0', 'to');
    const [b] = idsOn('s1', 'to');
    await bank.open(a, 10);
    await bank.open(b, 10);
    const error = await bank.sharding
      .transaction(
        async () => {
          await bank.move(a, 't-to', -1);
          await bank.move(b, 't-to', 1);
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        },
        { timeoutMs: 200 },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrossShardTransactionError);
    expect(error).toMatchObject({ outcome: 'aborted', shards: ['s0', 's1'] });
    expect([await balanceOn(a), await balanceOn(b)]).toEqual([10, 10]);
  });

  describe('reference tables', () => {
    it('writes on every shard, joins locally, refuses other writes, names divergence', async () => {
      const tables = app.get(ReferenceTables);
      await tables.write(async (em) => {
        em.create(Currency, { code: 'CHF', name: 'Swiss franc' });
      });
      for (const shard of SHARDS)
        expect(await topology.server(shard).query('select code, name from currencies')).toEqual([
          { code: 'CHF', name: 'Swiss franc' },
        ]);
      expect((await tables.verify()).consistent).toBe(true);

      const [id] = idsOn('s1', 'ref');
      await bank.open(id, 1);
      const joined = await settles(async () => {
        const rows = await bank.withCurrency(id, 'CHF');
        expect(rows).toHaveLength(1);
        return rows;
      });
      expect(joined[0]).toMatchObject({ id, currency: 'Swiss franc' });
      expect([topology.server('s1').port, topology.server('s1', 'replica', 0).port]).toContain(joined[0].port);

      await expect(bank.renameCurrency(id, 'CHF')).rejects.toThrow(ReferenceWriteError);
      expect((await topology.server('s1').query('select name from currencies'))[0]).toEqual({ name: 'Swiss franc' });

      await topology.server('s1').query("update currencies set name = 'tampered' where code = 'CHF'");
      const report = await tables.verify();
      expect(report.consistent).toBe(false);
      // two copies, neither a majority: the first shard's is taken as the reference
      expect(report.tables[0]).toMatchObject({ entity: 'Currency', diverged: ['s1'] });
      expect(report.tables[0].checksums.s0).not.toBe(report.tables[0].checksums.s1);
      await topology.server('s1').query("update currencies set name = 'Swiss franc' where code = 'CHF'");
    });

    it('writes on no shard when one is stopped during the write', async () => {
      const tables = app.get(ReferenceTables);
      let stopped = false;
      setTransactionFaultHandler(async (point) => {
        if (point !== 'after-prepare' || stopped) return;
        stopped = true;
        await topology.server('s0').stop(); // the deciding shard goes before its decision
      });
      await expect(
        tables.write(async (em) => {
          em.create(Currency, { code: 'EUR', name: 'Euro' });
        }),
      ).rejects.toBeInstanceOf(CrossShardTransactionError);
      await topology.server('s0').start();
      await app.get(ReplicationMonitor).checkNow(); // close s0's circuit now (the monitor runs once a minute here)
      await settles(async () => {
        const report = await bank.sharding.recoverTransactions({ graceMs: 0 });
        expect(report.unresolved).toEqual({ s0: 0, s1: 0 });
      });
      for (const shard of SHARDS)
        expect(await topology.server(shard).query("select code from currencies where code = 'EUR'")).toEqual([]);
    });
  });
});

describe('shard names too long for a prepared transaction id', () => {
  let topology: EmbeddedTopology;
  afterAll(async () => topology?.stop());

  it('aborts with CrossShardTransactionError and leaves no transaction open', async () => {
    const prefix = 'shard-with-a-very-long-name-'.repeat(4);
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 0, shardPrefix: prefix });
    const apps = new TestApps(() => topology.shards, [], { mikroOrm: { entities: BANK_ENTITIES } });
    const app = await apps.start();
    try {
      await app.get(ShardingSchema).refresh();
      const sharding = app.get(ShardingService);
      const error = await sharding
        .transaction(async () => {
          for (const shard of sharding.shards) {
            await sharding.run({ shard }, async (em) => {
              em.create(Currency, { code: shard.slice(-2), name: 'x' });
              await em.flush();
            });
          }
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CrossShardTransactionError);
      expect(error).toMatchObject({ outcome: 'aborted' });
      expect((error as Error).message).toMatch(/use shorter shard names/);
      for (const server of topology.servers) {
        expect(await server.query('select code from currencies')).toEqual([]);
        expect(
          await server.query(
            "select pid from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'",
          ),
        ).toEqual([]);
      }
    } finally {
      await apps.closeAll();
    }
  });
});

describe('a server without prepared transactions', () => {
  let topology: EmbeddedTopology;
  afterAll(async () => topology?.stop());

  it('fails the start with ShardingConfigError when transactions are configured', async () => {
    topology = await startEmbeddedTopology({
      shards: 1,
      replicasPerShard: 0,
      settings: { max_prepared_transactions: 0 },
    });
    const apps = new TestApps(() => topology.shards, [], { transactions: {} });
    const error = await apps.start().catch((e: unknown) => e);
    await apps.closeAll();
    expect(error).toBeInstanceOf(ShardingConfigError);
    expect((error as Error).message).toMatch(/max_prepared_transactions = 0/);
  });
});
