import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  hashStrategy,
  InvalidRouteError,
  NoShardContextError,
  ReadOnlyContextError,
  ReadReplica,
  ShardBy,
  ShardedEntityManager,
  MisplacedEntityError,
  ShardingModule,
  ShardingSchema,
  ShardingService,
  ShardKey,
  ShardKeyMissingError,
  ShardLockError,
  ShardRoutingError,
  UsePrimary,
} from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { Account } from './support/entities.js';
import { nodeByPort, whereAmI } from './support/where.js';

const expectedShard = (key: string | number) => hashStrategy({ buckets: 1024 }).shardFor(key, ['s0', 's1']) as string;

@Injectable()
class AccountsService {
  constructor(private readonly em: ShardedEntityManager) {}

  @ShardBy('id')
  async create(id: string, name = 'n') {
    this.em.create(Account, { id, name });
    await this.em.flush();
    return whereAmI(this.em);
  }

  @ShardBy('id')
  async onPrimary(id: string) {
    void id;
    return whereAmI(this.em);
  }

  @ShardBy('id')
  @ReadReplica()
  async onReplica(id: string) {
    void id;
    return whereAmI(this.em);
  }

  @ShardBy('id')
  @UsePrimary()
  async forcedPrimary(id: string) {
    void id;
    return whereAmI(this.em);
  }

  @ShardBy('id')
  @ReadReplica()
  async find(id: string) {
    return this.em.findOne(Account, id);
  }

  /** No key: the enclosing call's shard. */
  @ReadReplica()
  async findInCurrentShard(id: string) {
    return this.em.findOne(Account, id);
  }

  @ShardBy('dto.owner.id')
  async byPath(dto: { owner: { id: string } }) {
    void dto;
    return whereAmI(this.em);
  }

  @ShardBy(1)
  async byIndex(label: string, id: string) {
    void label;
    void id;
    return whereAmI(this.em);
  }

  @ShardBy((_label: string, ref: { key: string }) => ref.key)
  async byFunction(label: string, ref: { key: string }) {
    void label;
    void ref;
    return whereAmI(this.em);
  }

  @ReadReplica()
  async byShardKeyParam(label: string, @ShardKey() id: string) {
    void label;
    void id;
    return whereAmI(this.em);
  }

  @ShardBy('id')
  async writeThenNestedRead(id: string) {
    await this.create(id);
    return this.onReplica(id);
  }

  @ShardBy('id')
  async readTwiceNested(id: string) {
    const first = await this.find(id);
    const second = await this.findInCurrentShard(id);
    return { first, second, same: first === second };
  }

  @ShardBy('id')
  @ReadReplica()
  async illegalFlush(id: string) {
    this.em.getUnitOfWork(); // reads are fine
    await this.em.flush();
    void id;
  }

  @ShardBy('id')
  @ReadReplica()
  async illegalTransaction(id: string) {
    await this.em.transactional(async () => undefined);
    void id;
  }

  @ShardBy('id')
  @ReadReplica()
  async sneakyDirtyFlush(id: string) {
    const account = await this.em.findOneOrFail(Account, id);
    account.name = 'changed on a replica?';
    // flushing through the fork itself (not via ShardedEntityManager) is refused too
    await (this.em.getContext() as unknown as { flush(): Promise<void> }).flush();
  }

  @ShardBy('id')
  @ReadReplica()
  async sneakyQueryBuilderWrite(id: string) {
    await this.em.createQueryBuilder(Account).update({ name: 'via qb' }).where({ id }).execute();
  }

  @ShardBy('id')
  @ReadReplica()
  async sneakyRawDelete(id: string) {
    await this.em.execute('delete from accounts where id = ?', [id]);
  }

  @ShardBy('id')
  @ReadReplica()
  async sneakyRepositoryUpsert(id: string) {
    await this.em.getRepository(Account).upsert({ id, name: 'via repository' });
  }

  /** A write inside a transaction callback, then a replica read: the read must see it. */
  @ShardBy('id')
  async renameInTransactionThenRead(id: string, name: string) {
    await this.em.transactional((em) => em.nativeUpdate(Account, { id }, { name }));
    return { where: await this.onReplica(id), account: await this.findFresh(id) };
  }

  @ShardBy('id')
  @ReadReplica()
  async findFresh(id: string) {
    return this.em.findOne(Account, id, { refresh: true });
  }

  /** The fork id during the call, and the fork ids seen by work the call left running after it settled. */
  @ShardBy('id')
  @ReadReplica()
  async leaveWorkBehind(id: string) {
    void id;
    const during = [this.em.id, this.em.id];
    const after = new Promise<number[]>((resolve) => setTimeout(() => resolve([this.em.id, this.em.id]), 30));
    return { during, after };
  }

  /** A transaction on a's shard → a transaction on b's shard → back to a's shard, which writes. */
  @ShardBy('a')
  async acrossTransactions(a: string, b: string, fail: boolean) {
    return this.em.transactional(async () => {
      const [outer] = await this.em.execute<{ tx: string }[]>('select txid_current()::text as tx');
      const inner = await this.otherShardThenBack(b, a);
      if (fail) throw new Error('roll back');
      return { outer: outer.tx, ...inner };
    });
  }

  @ShardBy('b')
  async otherShardThenBack(b: string, a: string) {
    void b;
    return this.em.transactional(async () => {
      const [middle] = await this.em.execute<{ tx: string }[]>('select txid_current()::text as tx');
      return { middle: middle.tx, back: await this.writeAndTell(a) };
    });
  }

  @ShardBy('id')
  async writeAndTell(id: string) {
    await this.em.insert(Account, { id, name: 'written innermost' });
    const [row] = await this.em.execute<{ tx: string | null; port: number }[]>(
      'select txid_current_if_assigned()::text as tx, inet_server_port() as port',
    );
    return row;
  }

  @ShardBy('id')
  async inTransaction(id: string) {
    return this.em.transactional(async (em) => {
      const [outer] = await em.execute<{ tx: string }[]>('select txid_current()::text as tx');
      const nested = await this.txidOnReplica(id);
      return { outer: outer.tx, nested };
    });
  }

  @ShardBy('id')
  @ReadReplica()
  async txidOnReplica(id: string) {
    void id;
    const [row] = await this.em.execute<{ tx: string; recovery: boolean }[]>(
      'select txid_current_if_assigned()::text as tx, pg_is_in_recovery() as recovery',
    );
    return row;
  }
}

/** Two keys on different shards. */
const twoShardKeys = () =>
  ['lock-a', 'lock-b', 'lock-c', 'lock-d'].reduce<string[]>(
    (found, key) =>
      found.length === 0 || (found.length === 1 && expectedShard(key) !== expectedShard(found[0]))
        ? [...found, key]
        : found,
    [],
  );

describe('routing on a real 2 shards × (primary + 2 replicas) topology', () => {
  let topology: EmbeddedTopology;
  let moduleRef: TestingModule;
  let accounts: AccountsService;
  let sharding: ShardingService;
  let nodes: Map<number, string>;
  const node = async (side: Promise<{ port: number }>) => nodes.get((await side).port);

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 2 });
    nodes = nodeByPort(topology);
    moduleRef = await Test.createTestingModule({
      imports: [ShardingModule.forRoot({ shards: topology.shards, mikroOrm: { entities: [Account] } })],
      providers: [AccountsService],
    }).compile();
    await moduleRef.init();
    await moduleRef.get(ShardingSchema).refresh();
    accounts = moduleRef.get(AccountsService);
    sharding = moduleRef.get(ShardingService);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await topology?.stop();
  });

  it('writes land on the primary of the shard the strategy names, and the row lives only there', async () => {
    for (let i = 0; i < 30; i++) {
      const id = `acct-${i}`;
      expect(await node(accounts.create(id))).toBe(`${expectedShard(id)}/primary`);
    }
    const onPrimary = async (shard: string) =>
      (await topology.server(shard).query<{ id: string }>('select id from accounts')).map((r) => r.id).sort();
    const expected = (shard: string) =>
      Array.from({ length: 30 }, (_, i) => `acct-${i}`)
        .filter((id) => expectedShard(id) === shard)
        .sort();
    expect(await onPrimary('s0')).toEqual(expected('s0'));
    expect(await onPrimary('s1')).toEqual(expected('s1'));
    expect(expected('s0').length).toBeGreaterThan(5);
    expect(expected('s1').length).toBeGreaterThan(5);
  });

  it('@ReadReplica reads run on the key shard’s replicas, round-robin', async () => {
    const id = 'acct-replica';
    const shard = expectedShard(id);
    const seen = [];
    for (let i = 0; i < 6; i++) seen.push(await node(accounts.onReplica(id)));
    expect(new Set(seen)).toEqual(new Set([`${shard}/replica-1`, `${shard}/replica-2`]));
    expect(seen[0]).not.toBe(seen[1]);
    expect((await accounts.onReplica(id)).recovery).toBe(true);
    expect(await node(accounts.forcedPrimary(id))).toBe(`${shard}/primary`);
  });

  it('within one context a shard is always read from the same replica (reads never go back in time)', async () => {
    const id = 'acct-sticky';
    const inOneContext = await sharding.withContext(async () => {
      const seen = new Set<string | undefined>();
      for (let i = 0; i < 6; i++) seen.add(await node(accounts.onReplica(id)));
      return seen;
    });
    expect(inOneContext.size).toBe(1);
    expect([...inOneContext][0]).toMatch(new RegExp(`^${expectedShard(id)}/replica-`));
  });

  it('finds the key by name, path, index, function and @ShardKey()', async () => {
    for (const key of ['k1', 'k2', 'k3', 'k4', 'k5', 'k6']) {
      const shard = expectedShard(key);
      expect(await node(accounts.byPath({ owner: { id: key } }))).toBe(`${shard}/primary`);
      expect(await node(accounts.byIndex('x', key))).toBe(`${shard}/primary`);
      expect(await node(accounts.byFunction('x', { key }))).toBe(`${shard}/primary`);
      expect(await node(accounts.byShardKeyParam('x', key))).toMatch(new RegExp(`^${shard}/replica-`));
    }
  });

  it('reads a row written just before from a replica once it has replayed it', async () => {
    await accounts.create('acct-visible', 'Ada');
    await sharding.run({ key: 'acct-visible' }, () => undefined); // warm
    await (
      await import('../lib/index.js')
    ).waitForReplicas(moduleRef.get((await import('../lib/index.js')).NodeRegistry));
    expect(await accounts.find('acct-visible')).toMatchObject({ id: 'acct-visible', name: 'Ada' });
  });

  it('nested calls on the same node join one fork (one identity map)', async () => {
    await accounts.create('acct-nested');
    await (
      await import('../lib/index.js')
    ).waitForReplicas(moduleRef.get((await import('../lib/index.js')).NodeRegistry));
    const result = await sharding.run({ key: 'acct-nested' }, () => accounts.readTwiceNested('acct-nested'), {
      readOnly: true,
    });
    expect(result.first).not.toBeNull();
    expect(result.same).toBe(true);
    // two separate top-level calls get separate forks
    expect((await accounts.find('acct-nested')) === (await accounts.find('acct-nested'))).toBe(false);
  });

  it('a context lets go of its forks once the call that opened it settles; work left running gets a fresh one', async () => {
    const { during, after } = await accounts.leaveWorkBehind('acct-release');
    expect(during[0]).toBe(during[1]);
    const [later, again] = await after;
    expect(later).not.toBe(during[0]); // the call's fork is no longer held by its context
    expect(again).toBe(later); // the late work still shares one fork
    // a context opened by run() is released the same way
    let runLater: Promise<number> | undefined;
    const inRun = await sharding.run({ key: 'acct-release' }, (em) => {
      runLater = new Promise((resolve) => setTimeout(() => resolve(em.id), 30));
      return em.id;
    });
    expect(await runLater).not.toBe(inRun);
  });

  it('after a write in a context, replica reads of that shard go to the primary; other shards keep replicas', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `raw-${i}`);
    const [first, sameShard, third] = keys.filter((k) => expectedShard(k) === expectedShard(keys[0]));
    const otherShard = keys.find((k) => expectedShard(k) !== expectedShard(keys[0]))!;
    const shard = expectedShard(first);
    // a @ReadReplica call nested in the writing call reads the primary
    expect(await node(accounts.writeThenNestedRead(first))).toBe(`${shard}/primary`);
    // in one context (a request): replica before the write, primary after it, other shard untouched
    const seen = await sharding.withContext(async () => {
      const before = await node(accounts.onReplica(sameShard));
      await accounts.create(sameShard);
      return {
        before,
        after: await node(accounts.onReplica(sameShard)),
        other: await node(accounts.onReplica(otherShard)),
      };
    });
    expect(seen.before).toMatch(new RegExp(`^${shard}/replica-`));
    expect(seen.after).toBe(`${shard}/primary`);
    expect(seen.other).toMatch(new RegExp(`^${expectedShard(otherShard)}/replica-`));
    // a read-only run that calls a write: its later reads of that shard go to the primary too
    const inReadOnly = await sharding.run(
      { key: first },
      async () => {
        const before = await node(accounts.onReplica(first));
        await accounts.create(third);
        return { before, after: await node(accounts.onReplica(first)) };
      },
      { readOnly: true },
    );
    expect(inReadOnly.before).toMatch(new RegExp(`^${shard}/replica-`));
    expect(inReadOnly.after).toBe(`${shard}/primary`);
  });

  it('a write inside a transaction callback makes later reads of the shard use the primary', async () => {
    await accounts.create('acct-tx-rename', 'before');
    const result = await accounts.renameInTransactionThenRead('acct-tx-rename', 'after');
    expect(nodes.get(result.where.port)).toBe(`${expectedShard('acct-tx-rename')}/primary`);
    expect(result.account?.name).toBe('after');
  });

  it('a transaction runs on the primary, and nested replica reads join it', async () => {
    const result = await accounts.inTransaction('acct-tx');
    expect(result.nested.recovery).toBe(false);
    expect(result.nested.tx).toBe(result.outer);
  });

  it('a call back into a shard from inside another shard’s transaction joins the first shard’s transaction', async () => {
    const a = ['tx-a-0', 'tx-a-1', 'tx-a-2', 'tx-a-3'].find((k) => expectedShard(k) === 's0')!;
    const b = ['tx-b-0', 'tx-b-1', 'tx-b-2', 'tx-b-3'].find((k) => expectedShard(k) === 's1')!;
    const done = await accounts.acrossTransactions(a, b, false);
    expect(done.back.tx).toBe(done.outer); // the innermost write ran in a's transaction ...
    expect(await node(Promise.resolve(done.back))).toBe('s0/primary');
    expect(await sharding.run({ key: a }, (em) => em.count(Account, { id: a }))).toBe(1);
    // ... so it is rolled back with it
    const again = `${a}-rolled-back`;
    const key = ['0', '1', '2', '3', '4', '5'].map((n) => `${again}-${n}`).find((k) => expectedShard(k) === 's0')!;
    await expect(accounts.acrossTransactions(key, b, true)).rejects.toThrow('roll back');
    expect(await sharding.run({ key }, (em) => em.count(Account, { id: key }))).toBe(0);
  });

  it('writes inside @ReadReplica are refused before reaching a server', async () => {
    await accounts.create('acct-ro', 'original');
    await (
      await import('../lib/index.js')
    ).waitForReplicas(moduleRef.get((await import('../lib/index.js')).NodeRegistry));
    await expect(accounts.illegalFlush('acct-ro')).rejects.toThrow(ReadOnlyContextError);
    await expect(accounts.illegalFlush('acct-ro')).rejects.toThrow(
      /AccountsService.illegalFlush called em.flush\(\) in a read-only call \(node s\d\/replica-\d\); nothing was sent/,
    );
    await expect(accounts.illegalTransaction('acct-ro')).rejects.toThrow(/em.transactional\(\)/);
    await expect(accounts.sneakyDirtyFlush('acct-ro')).rejects.toThrow(
      /tried to write on read replica s\d\/replica-\d/,
    );
    const shard = expectedShard('acct-ro');
    expect(await topology.server(shard).query("select name from accounts where id = 'acct-ro'")).toEqual([
      { name: 'original' },
    ]);
  });

  it('a missing, empty or wrongly typed key is an error naming the method, never a default shard', async () => {
    for (const bad of [undefined, null, '', '   ', Number.NaN, { id: 1 }, true]) {
      await expect(accounts.onPrimary(bad as never)).rejects.toThrow(ShardKeyMissingError);
    }
    await expect(accounts.onPrimary(undefined as never)).rejects.toThrow(
      "AccountsService.onPrimary: shard key 'id' is missing (undefined).",
    );
    await expect(accounts.byPath({ owner: null } as never)).rejects.toThrow(
      "AccountsService.byPath: shard key 'dto.owner.id' is missing",
    );
    await expect(accounts.findInCurrentShard('x')).rejects.toThrow(
      /has no shard key and runs outside any routed call, with 2 shards/,
    );
  });

  it('ShardedEntityManager outside a routed call says what to do', () => {
    const em = moduleRef.get(ShardedEntityManager);
    expect(() => em.findOne(Account, 'x')).toThrow(NoShardContextError);
    // reading a method is harmless (provider scanners read them all); calling it says what to do
    expect(() => em.find(Account, {})).toThrow(/ShardedEntityManager.find was used outside a routed call.*@ShardBy/);
    expect(em.currentRoute()).toBeUndefined();
  });

  it('ShardingService: run by shard or key, shardFor, forEachShard', async () => {
    expect(await sharding.shardFor('acct-1')).toBe(expectedShard('acct-1'));
    expect(await sharding.run({ shard: 's1' }, (em) => whereAmI(em).then((w) => nodes.get(w.port)))).toBe('s1/primary');
    expect(
      await sharding.run({ shard: 's0' }, (em) => whereAmI(em).then((w) => nodes.get(w.port)), { readOnly: true }),
    ).toMatch(/^s0\/replica-/);
    const everywhere = await sharding.forEachShard(async (_shard, em) => nodes.get((await whereAmI(em)).port), {
      concurrency: 1,
    });
    expect(everywhere).toEqual({ s0: 's0/primary', s1: 's1/primary' });
    await expect(sharding.run({ shard: 's7' }, () => 1)).rejects.toThrow('Shard "s7" is not configured');
    await expect(sharding.run({ shard: undefined as never }, () => 1)).rejects.toThrow(ShardKeyMissingError);
    await expect(sharding.run({ key: '' }, () => 1)).rejects.toThrow(/shard key \{ key \} is an empty string/);
    await expect(sharding.shardFor(null as never)).rejects.toThrow(ShardKeyMissingError);
  });

  it('a request locked to one shard refuses a second shard', async () => {
    const [a, b] = twoShardKeys();
    await expect(
      sharding.run(
        { key: a },
        async () => {
          await accounts.onPrimary(a);
          await accounts.onPrimary(b);
        },
        { lockShard: true },
      ),
    ).rejects.toThrow(ShardLockError);
    await expect(sharding.run({ key: a }, () => accounts.onPrimary(b))).resolves.toBeDefined();
  });

  it.each<[string, { lockShard: true } | { lockRequestToOneShard: true }]>([
    ['lockShard', { lockShard: true }],
    ['lockRequestToOneShard (deprecated: still locks, with one warning)', { lockRequestToOneShard: true }],
  ])('the module option %s locks every context to its first shard', async (_name, option) => {
    const warnings: string[] = [];
    const quiet = () => undefined;
    const locked = await Test.createTestingModule({
      imports: [ShardingModule.forRoot({ shards: topology.shards, mikroOrm: { entities: [Account] }, ...option })],
      providers: [AccountsService],
    })
      .setLogger({ log: quiet, error: quiet, warn: (message: string) => warnings.push(String(message)) })
      .compile();
    await locked.init();
    try {
      const [a, b] = twoShardKeys();
      const service = locked.get(AccountsService);
      const twoShards = locked.get(ShardingService).withContext(async () => {
        await service.onPrimary(a);
        return service.onPrimary(b);
      });
      await expect(twoShards).rejects.toThrow(ShardLockError);
      await expect(twoShards).rejects.toThrow(/locked to shard .*turn off the lockShard option/);
      // run() may still turn it off for its own context
      const unlocked = locked.get(ShardingService).run({ key: a }, () => service.onPrimary(b), { lockShard: false });
      expect(nodes.get((await unlocked).port)).toBe(`${expectedShard(b)}/primary`);
      const deprecation = warnings.filter((w) => w.includes('lockRequestToOneShard'));
      expect(deprecation).toEqual(
        'lockRequestToOneShard' in option
          ? [
              'The lockRequestToOneShard option is deprecated: rename it to lockShard (same meaning). It will be removed in 0.5.0.',
            ]
          : [],
      );
    } finally {
      await locked.close();
    }
  });

  it('the placement guard: an entity whose own key belongs to another shard is refused before any SQL', async () => {
    @Injectable()
    class PairsService {
      constructor(private readonly em: ShardedEntityManager) {}

      @ShardBy('id')
      async createPair(id: string, otherId: string) {
        this.em.create(Account, { id, name: 'first' });
        this.em.create(Account, { id: otherId, name: 'second' });
        await this.em.flush();
      }
    }
    const guarded = await Test.createTestingModule({
      imports: [
        ShardingModule.forRoot({
          shards: topology.shards,
          mikroOrm: { entities: [Account] },
          shardKeys: { Account: 'id' },
        }),
      ],
      providers: [PairsService],
    }).compile();
    await guarded.init();
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `pair-${i}`);
      const first = ids[0];
      const other = ids.find((id) => expectedShard(id) !== expectedShard(first))!;
      const same = ids.find((id) => id !== first && expectedShard(id) === expectedShard(first))!;
      const error = await guarded
        .get(PairsService)
        .createPair(first, other)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MisplacedEntityError);
      expect(error).toMatchObject({
        entity: 'Account',
        keyShard: expectedShard(other),
        flushShard: expectedShard(first),
      });
      expect((error as Error).message).toMatch(/PairsService\.createPair would write Account with key/);
      for (const shard of ['s0', 's1']) {
        const rows = await topology.server(shard).query("select id from accounts where id like 'pair-%'");
        expect(rows).toEqual([]); // nothing written on any shard: not even the first entity
      }
      await guarded.get(PairsService).createPair(first, same); // both keys on the method's shard: fine
      const [{ n }] = await topology
        .server(expectedShard(first))
        .query<{ n: string }>("select count(*)::text as n from accounts where id like 'pair-%'");
      expect(n).toBe('2');
    } finally {
      await guarded.close();
    }
  });

  it('2,000 interleaved concurrent calls over both shards each run on their own node', async () => {
    const calls = Array.from({ length: 2_000 }, async (_, i) => {
      const id = `conc-${i}`;
      const read = i % 2 === 0;
      const where = nodes.get((read ? await accounts.onReplica(id) : await accounts.onPrimary(id)).port)!;
      const ok = read ? where.startsWith(`${expectedShard(id)}/replica-`) : where === `${expectedShard(id)}/primary`;
      return ok ? 'ok' : `${id} ran on ${where}`;
    });
    const results = await Promise.all(calls);
    expect(results.filter((r) => r !== 'ok')).toEqual([]);
  });
});

describe('routing decorators refuse impossible uses when the class is defined', () => {
  it('a key naming no parameter', () => {
    expect(() => {
      class Broken {
        @ShardBy('userId')
        async find(id: string) {
          return id;
        }
      }
      return Broken;
    }).toThrow(
      new InvalidRouteError(
        "Broken.find: @ShardBy('userId') names no parameter (parameters: id). Use a parameter name, a path like 'dto.tenantId', a parameter index, or a function of the arguments.",
      ),
    );
  });

  it('a parameter index past the end, contradicting or doubled decorators, a sync method', () => {
    const define = (make: () => unknown) => () => make();
    expect(
      define(() => {
        class A {
          @ShardBy(2)
          async m(id: string) {
            return id;
          }
        }
        return A;
      }),
    ).toThrow(/A.m: @ShardBy\(2\) points at no parameter; the method has 1/);
    expect(
      define(() => {
        class B {
          @ReadReplica()
          @UsePrimary()
          @ShardBy('id')
          async m(id: string) {
            return id;
          }
        }
        return B;
      }),
    ).toThrow(/B.m: @UsePrimary\(\) and @ReadReplica\(\) contradict each other/);
    expect(
      define(() => {
        class C {
          @ShardBy('id')
          async m(@ShardKey() id: string) {
            return id;
          }
        }
        return C;
      }),
    ).toThrow(/C.m: use either @ShardBy\(key\) or @ShardKey\(\)/);
    expect(
      define(() => {
        class D {
          @ShardBy('id')
          m(id: string): string {
            return id;
          }
        }
        return D;
      }),
    ).toThrow(/D.m is synchronous \(declared to return String\).*Make it async/);
  });

  it('a @ShardKey() parameter on a method without a routing decorator stops the application at start', async () => {
    @Injectable()
    class Unrouted {
      async find(@ShardKey() id: string) {
        return id;
      }
    }
    @Injectable()
    class Routed extends Unrouted {
      @ReadReplica()
      async other(@ShardKey() id: string) {
        return id;
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [
        ShardingModule.forRoot({
          shards: { s0: { primary: { clientUrl: 'postgresql://app@127.0.0.1:1/app' } } },
          mikroOrm: { entities: [Account] },
        }),
      ],
      providers: [Routed],
    }).compile();
    try {
      const started = moduleRef.init();
      await expect(started).rejects.toThrow(InvalidRouteError);
      await expect(started).rejects.toThrow(
        'Unrouted.find: @ShardKey() marks a parameter, but the method has no routing decorator, so the call would run unrouted. ' +
          'Add @ShardBy(), @ReadReplica() or @UsePrimary() to the method.',
      );
    } finally {
      await moduleRef.close();
    }
  });

  it('an unknown shard name from a custom strategy is an error, not a write to nowhere', async () => {
    const topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 0 });
    const moduleRef = await Test.createTestingModule({
      imports: [
        ShardingModule.forRoot({
          shards: topology.shards,
          mikroOrm: { entities: [Account] },
          strategy: (key) => (String(key).startsWith('eu') ? 's1' : 'us-east-1'),
        }),
      ],
      providers: [AccountsService],
    }).compile();
    try {
      const service = moduleRef.get(AccountsService);
      expect(nodeByPort(topology).get((await service.onReplica('eu-7')).port)).toBe('s1/primary'); // no replica: primary
      await expect(service.onPrimary('us-7')).rejects.toThrow(ShardRoutingError);
      await expect(service.onPrimary('us-7')).rejects.toThrow(
        /returned "us-east-1" for key "us-7", which is not a configured shard \(s0, s1\)/,
      );
    } finally {
      await moduleRef.close();
      await topology.stop();
    }
  });
});
