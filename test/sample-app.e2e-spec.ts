import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { CrossShardQuery, decodeShardId, NodeRegistry, waitForReplicas } from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { bootstrap, type RunningSampleApp } from '../sample-app/bootstrap.js';
import { Order } from '../sample-app/users/order.entity.js';

const shardOfId = (registry: NodeRegistry, id: string) => registry.shardNames[decodeShardId(id).shardIndex];

interface TopologyBody {
  shards: {
    name: string;
    nodes: { id: string; role: string; port: number; reachable: boolean; inRecovery: boolean; streaming: boolean }[];
  }[];
}

describe('sample app over HTTP', () => {
  describe('on nodes named by SHARDING_SHARDS', () => {
    let topology: EmbeddedTopology;
    let running: RunningSampleApp;

    beforeAll(async () => {
      topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
      running = await bootstrap({
        SHARDING_SHARDS: JSON.stringify(topology.shards),
        PORT: '0',
        OPERATOR_ENDPOINTS: '1',
      });
    });

    afterAll(async () => {
      await running?.close();
      await topology?.stop();
    });

    it('GET /topology shows each node as the server reports it, without passwords', async () => {
      const response = await request(running.url).get('/topology').expect(200);
      const body = response.body as TopologyBody;
      expect(body.shards.map((s) => s.name)).toEqual(['s0', 's1']);
      for (const shard of body.shards) {
        const [primary, replica] = shard.nodes;
        expect(primary).toMatchObject({
          role: 'primary',
          reachable: true,
          inRecovery: false,
          port: topology.server(shard.name).port,
        });
        expect(replica).toMatchObject({
          role: 'replica',
          reachable: true,
          inRecovery: true,
          streaming: true,
          port: topology.server(shard.name, 'replica').port,
        });
      }
      expect(response.text).not.toContain(topology.server('s0').connection.password!);
    });

    it('users and orders: writes on the id’s shard primary, reads from its replica, orders beside their user', async () => {
      const registry = running.app.get(NodeRegistry);
      const created: { id: string; shard: string }[] = [];
      for (let i = 0; i < 4; i++) {
        const response = await request(running.url)
          .post('/users')
          .send({ email: `u${i}@example.com`, name: `User ${i}` })
          .expect(201);
        const id = response.body.data.id as string;
        const shard = registry.shardNames[decodeShardId(id).shardIndex];
        expect(response.body.servedBy).toMatchObject({ shard, node: `${shard}/primary`, role: 'primary' });
        expect(response.headers['x-served-by']).toBe(`${shard}/primary`);
        expect(await topology.server(shard).query('select name from users where id = $1', [id])).toEqual([
          { name: `User ${i}` },
        ]);
        created.push({ id, shard });
      }
      expect(new Set(created.map((c) => c.shard))).toEqual(new Set(['s0', 's1'])); // new users are spread

      const { id, shard } = created[0];
      const other = shard === 's0' ? 's1' : 's0';
      expect(await topology.server(other).query('select id from users where id = $1', [id])).toEqual([]);

      await request(running.url).patch(`/users/${id}`).send({ name: 'Renamed' }).expect(200);
      const order = await request(running.url).post(`/users/${id}/orders`).send({ totalCents: 1250 }).expect(201);
      expect(order.body.servedBy.node).toBe(`${shard}/primary`);
      expect(decodeShardId(order.body.data.id).shardIndex).toBe(decodeShardId(id).shardIndex);
      expect(await topology.server(shard).query('select total_cents from orders where user_id = $1', [id])).toEqual([
        { total_cents: 1250 },
      ]);

      await waitForReplicas(registry);
      const read = await request(running.url).get(`/users/${id}`).expect(200);
      expect(read.body).toMatchObject({
        data: { id, name: 'Renamed' },
        servedBy: { node: `${shard}/replica-1`, role: 'replica' },
      });
      const orders = await request(running.url).get(`/users/${id}/orders`).expect(200);
      expect(orders.headers['x-served-by']).toBe(`${shard}/replica-1`);
      expect(orders.body.data).toEqual([expect.objectContaining({ id: order.body.data.id, totalCents: 1250 })]);
    });

    it('GET /users lists every shard in one order (offset and cursor paging) and GET /stats totals them', async () => {
      const registry = running.app.get(NodeRegistry);
      for (let i = 0; i < 7; i++) {
        const user = await request(running.url)
          .post('/users')
          .send({ email: `list${i}@example.com`, name: `Lister ${i}` })
          .expect(201);
        await request(running.url)
          .post(`/users/${user.body.data.id}/orders`)
          .send({ totalCents: 1000 + i })
          .expect(201);
      }
      await waitForReplicas(registry);
      // the truth, read from every primary: users by createdAt then id, as one database would order them
      const perShard = await Promise.all(
        topology.servers
          .filter((s) => s.role === 'primary')
          .map((s) => s.query<{ id: string; created_at: Date }>('select id::text as id, created_at from users')),
      );
      const expected = perShard
        .flat()
        .sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
        .map((u) => u.id);
      expect(new Set(perShard.map((rows) => rows.length > 0))).toEqual(new Set([true])); // users on both shards

      const ids = (body: { items: { id: string }[] }) => body.items.map((u) => u.id);
      expect(ids((await request(running.url).get('/users?orderBy=createdAt&limit=3').expect(200)).body)).toEqual(
        expected.slice(0, 3),
      );
      expect(
        ids((await request(running.url).get('/users?orderBy=createdAt&limit=4&offset=2').expect(200)).body),
      ).toEqual(expected.slice(2, 6));
      const newestFirst = (await request(running.url).get('/users?orderBy=createdAt&order=desc&limit=2').expect(200))
        .body;
      expect(ids(newestFirst)).toEqual([...expected].reverse().slice(0, 2));

      const walked: string[] = [];
      let after = '';
      for (let page = 0; page < 50; page++) {
        const body = (
          await request(running.url)
            .get(`/users?first=3&after=${encodeURIComponent(after)}`)
            .expect(200)
        ).body as { items: { id: string }[]; nextCursor: string | null };
        walked.push(...ids(body));
        if (!body.nextCursor) break;
        after = body.nextCursor;
      }
      expect(walked).toEqual(expected);
      await request(running.url)
        // one character changed (never to itself: a cursor may well end in "x")
        .get(`/users?first=3&after=${after.slice(0, -1)}${after.endsWith('x') ? 'y' : 'x'}`)
        .expect(400);
      await request(running.url).get('/users?orderBy=password').expect(400);

      const orders = await Promise.all(
        topology.servers
          .filter((s) => s.role === 'primary')
          .map((s) =>
            s.query<{ n: string; cents: string | null }>('select count(*) as n, sum(total_cents) as cents from orders'),
          ),
      );
      const stats = (await request(running.url).get('/stats').expect(200)).body;
      expect(stats).toEqual({
        users: expected.length,
        orders: orders.reduce((n, [row]) => n + Number(row.n), 0),
        orderTotalCents: String(orders.reduce((n, [row]) => n + BigInt(row.cents ?? 0), 0n)),
      });
      expect(stats.orders).toBeGreaterThanOrEqual(7);

      // populate loads each order's user from the order's own shard
      const biggest = await running.app
        .get(CrossShardQuery)
        .find(Order, {}, { orderBy: { totalCents: 'desc' }, limit: 3, populate: ['user'] });
      const allOrders = (
        await Promise.all(
          topology.servers
            .filter((s) => s.role === 'primary')
            .map((s) => s.query<{ id: string; total_cents: number }>('select id::text as id, total_cents from orders')),
        )
      ).flat();
      allOrders.sort((a, b) => b.total_cents - a.total_cents || (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
      expect(biggest.items.map((o) => o.id)).toEqual(allOrders.slice(0, 3).map((o) => o.id));
      for (const order of biggest.items) {
        const [owner] = await topology
          .server(shardOfId(registry, order.id))
          .query<{ email: string }>('select u.email from orders o join users u on u.id = o.user_id where o.id = $1', [
            order.id,
          ]);
        expect(order.user.email).toBe(owner.email);
      }
    });

    it('POST /transfers moves money between users on two shards atomically', async () => {
      const registry = running.app.get(NodeRegistry);
      const users: Record<string, string> = {};
      for (let i = 0; users.s0 === undefined || users.s1 === undefined; i++) {
        const response = await request(running.url)
          .post('/users')
          .send({ email: `t${i}@example.com`, name: `Payer ${i}` })
          .expect(201);
        users[shardOfId(registry, response.body.id ?? response.body.data.id)] ??= response.body.data.id;
      }
      const balance = async (id: string) =>
        (
          await topology
            .server(shardOfId(registry, id))
            .query<{ balance_cents: string }>('select balance_cents from users where id = $1', [id])
        )[0].balance_cents;
      await request(running.url).post(`/users/${users.s0}/deposits`).send({ amountCents: 1000 }).expect(201);
      const moved = await request(running.url)
        .post('/transfers')
        .send({ from: users.s0, to: users.s1, amountCents: 400 })
        .expect(201);
      expect(moved.body.from).toMatchObject({
        balanceCents: 600,
        servedBy: { node: 's0/primary', inTransaction: true },
      });
      expect(moved.body.to).toMatchObject({ balanceCents: 400, servedBy: { node: 's1/primary', inTransaction: true } });
      expect([await balance(users.s0), await balance(users.s1)]).toEqual(['600', '400']);
      for (const shard of ['s0', 's1'])
        expect(
          await topology
            .server(shard)
            .query('select count(*)::int as legs from transfer_legs where transfer_id = $1', [moved.body.transferId]),
        ).toEqual([{ legs: 1 }]);
      // short of funds on the debit side: 409, and the credit side is not written either
      await request(running.url)
        .post('/transfers')
        .send({ from: users.s1, to: users.s0, amountCents: 401 })
        .expect(409);
      await request(running.url).post('/transfers').send({ from: users.s1, to: users.s1, amountCents: 1 }).expect(400);
      await request(running.url).post('/transfers').send({ from: users.s1, to: users.s0, amountCents: 0 }).expect(400);
      expect([await balance(users.s0), await balance(users.s1)]).toEqual(['600', '400']);
    });

    it('answers 404 for an unknown user and 400 for a malformed id or body', async () => {
      await request(running.url).get('/users/1').expect(404);
      await request(running.url).get('/users/abc').expect(400);
      await request(running.url).post('/users').send({ name: 'no email' }).expect(400);
      await request(running.url).post('/users/1/orders').send({ totalCents: 'ten' }).expect(400);
    });

    it('created the schema on every primary, and the replicas have it', async () => {
      for (const server of topology.servers) {
        const rows = await server.query<{ t: string }>(
          "select to_regclass('users')::text as t union all select to_regclass('orders')::text",
        );
        expect(rows.map((r) => r.t)).toEqual(['users', 'orders']);
      }
    });
  });

  it('with no external topology, starts its own embedded one and keeps the data between runs', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'nmos-sample-'));
    await chmod(parent, 0o755); // as root the servers run as "postgres", which must enter this folder
    const env = { SHARDING_DATA_DIR: join(parent, 'data'), PORT: '0', OPERATOR_ENDPOINTS: '1' };
    try {
      const first = await bootstrap(env);
      const before = (await request(first.url).get('/topology').expect(200)).body as TopologyBody;
      expect(before.shards.flatMap((s) => s.nodes).every((n) => n.reachable)).toBe(true);
      await first.app
        .get((await import('../lib/index.js')).NodeRegistry)
        .fork('s0')
        .execute("insert into users (id, email, name, created_at) values (1, 'a@example.com', 'Ada', now())");
      await first.close();

      // without the operator endpoints: no /topology, and /health says how each shard is, not where it is
      const second = await bootstrap({ ...env, OPERATOR_ENDPOINTS: '0' });
      try {
        await request(second.url).get('/topology').expect(404);
        const health = await request(second.url).get('/health').expect(200);
        expect(health.body.info.shards.shards).toEqual({
          s0: { primary: 'up', replicasUp: 1, replicas: 1 },
          s1: { primary: 'up', replicasUp: 1, replicas: 1 },
        });
        expect(health.text).not.toMatch(/postgresql:|127\.0\.0\.1|lsn/i);
        const registry = second.app.get((await import('../lib/index.js')).NodeRegistry);
        expect(await registry.fork('s0').execute('select name from users')).toEqual([{ name: 'Ada' }]);
      } finally {
        await second.close();
      }
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
