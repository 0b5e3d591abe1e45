import request from 'supertest';
import { decodeShardId, NodeRegistry } from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { bootstrap, type RunningSampleApp } from '../sample-app/bootstrap.js';
import { until } from './support/pids.js';

const TOKEN = 'x-shard-consistency';

interface UserBody {
  data: { id: string; name: string };
  servedBy: { node: string; role: string };
}

/** Read-your-writes, health and failure behaviour of the sample app, over HTTP, on real servers. */
describe('sample app over HTTP: replicas', () => {
  let topology: EmbeddedTopology;
  let running: RunningSampleApp;
  let registry: NodeRegistry;

  const delayReplicas = async (delay: string | null) => {
    for (const shard of ['s0', 's1']) {
      const replica = topology.server(shard, 'replica');
      await replica.query(
        delay === null
          ? 'alter system reset recovery_min_apply_delay'
          : `alter system set recovery_min_apply_delay = '${delay}'`,
      );
      await replica.query('select pg_reload_conf()');
    }
  };

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
    running = await bootstrap(
      { SHARDING_SHARDS: JSON.stringify(topology.shards), PORT: '0', OPERATOR_ENDPOINTS: '1' },
      { health: { intervalMs: 100, timeoutMs: 1_000 } },
    );
    registry = running.app.get(NodeRegistry);
  });

  afterAll(async () => {
    await running?.close();
    await topology?.stop();
  });

  it('GET /health lists every node with its role, state and lag, and no password', async () => {
    const response = await request(running.url).get('/health').expect(200);
    const nodes = response.body.info.shards.nodes as Record<string, { status: string; role: string; lagMs: number }>;
    expect(Object.keys(nodes)).toEqual(['s0/primary', 's0/replica-1', 's1/primary', 's1/replica-1']);
    for (const node of Object.values(nodes)) {
      expect(node.status).toBe('up');
      expect(node.lagMs).toBeGreaterThanOrEqual(0);
    }
    expect(response.text).not.toContain(topology.server('s0').connection.password!);
  });

  it('500 write-then-read cycles with lagging replicas: 0 stale reads, in one request and across two with the token', async () => {
    await delayReplicas('800ms');
    try {
      const servedBy: Record<string, number> = {};
      let lastToken = '';
      let lastId = '';
      for (let i = 0; i < 250; i++) {
        // two requests: the POST's token makes the GET see the new user
        const created = await request(running.url)
          .post('/users')
          .send({ email: `r${i}@x.io`, name: `R${i}` })
          .expect(201);
        const token = created.headers[TOKEN] as string;
        expect(token).toMatch(/^c1\./);
        const id = (created.body as UserBody).data.id;
        const read = await request(running.url).get(`/users/${id}`).set(TOKEN, token).expect(200);
        expect((read.body as UserBody).data.name).toBe(`R${i}`);
        servedBy[(read.body as UserBody).servedBy.role] = (servedBy[(read.body as UserBody).servedBy.role] ?? 0) + 1;
        // one request: PATCH updates, then reads the user back through @ReadReplica
        const patched = await request(running.url)
          .patch(`/users/${id}`)
          .send({ name: `R${i}-b` })
          .expect(200);
        expect((patched.body as UserBody).data.name).toBe(`R${i}-b`);
        lastToken = patched.headers[TOKEN] as string;
        lastId = id;
      }
      expect(servedBy.primary).toBe(250); // the replicas are 800 ms behind: every read needed the primary

      // the same read without the token hits a replica that has not replayed it: the lag is real
      const fresh = await request(running.url).post('/users').send({ email: 'late@x.io', name: 'late' }).expect(201);
      await request(running.url)
        .get(`/users/${(fresh.body as UserBody).data.id}`)
        .expect(404);

      // once the replica has replayed the write, the token no longer keeps the read on the primary
      const shard = `s${decodeShardId(lastId).shardIndex}`;
      await until('the replica replays the last update', async () => {
        const [row] = await topology
          .server(shard, 'replica')
          .query<{ name: string }>('select name from users where id = $1', [lastId]);
        return row?.name === 'R249-b';
      });
      const caughtUp = await request(running.url).get(`/users/${lastId}`).set(TOKEN, lastToken).expect(200);
      expect(caughtUp.headers['x-served-by']).toBe(`${shard}/replica-1`);
      expect((caughtUp.body as UserBody).data.name).toBe('R249-b');
    } finally {
      await delayReplicas(null);
    }
    const refused = await request(running.url).get('/users/1').set(TOKEN, 'not-a-token').expect(400);
    expect(refused.body.message).toMatch(/^UsersController\.findOne \(request header x-shard-consistency\): /);
  });

  it('tokens from clients: ignored where no replica is read, merged when sent twice, and a forged position cannot pin reads on the primary', async () => {
    // a request that reads no replica never looks at the token
    await request(running.url).get('/health').set(TOKEN, 'garbage').expect(200);
    const bad = await request(running.url).get('/users/1').set(TOKEN, 'garbage').expect(400);
    expect(bad.body.error).toBe('InvalidConsistencyTokenError');

    const ids: string[] = [];
    const tokens: string[] = [];
    while (new Set(ids.map((id) => decodeShardId(id).shardIndex)).size < 2) {
      const created = await request(running.url).post('/users').send({ email: 't@x.io', name: 'T' }).expect(201);
      ids.push((created.body as UserBody).data.id);
      tokens.push(created.headers[TOKEN] as string);
    }
    // the header sent twice (joined "a, b" by the server): both tokens count
    const both = await request(running.url)
      .get(`/users/${ids[0]}`)
      .set(TOKEN, [tokens[0], tokens.at(-1)!] as unknown as string)
      .expect(200);
    const positions = JSON.parse(Buffer.from((both.headers[TOKEN] as string).slice(3), 'base64url').toString());
    expect(Object.keys(positions).sort()).toEqual(['s0', 's1']);

    // a position far beyond anything the primary wrote: capped to the primary's, so a replica answers
    const id = ids[0];
    const shard = `s${decodeShardId(id).shardIndex}`;
    await until('the replica has the user', async () => {
      const rows = await topology.server(shard, 'replica').query('select 1 from users where id = $1', [id]);
      return rows.length === 1;
    });
    const forged = 'c1.' + Buffer.from(JSON.stringify({ [shard]: 'FFFFFFF/FFFFFFFF' })).toString('base64url');
    await until('a read with the forged token is served by the replica', async () => {
      const read = await request(running.url).get(`/users/${id}`).set(TOKEN, forged).expect(200);
      return read.headers['x-served-by'] === `${shard}/replica-1`;
    });
    const answered = await request(running.url).get(`/users/${id}`).set(TOKEN, forged).expect(200);
    const echoed = JSON.parse(Buffer.from((answered.headers[TOKEN] as string).slice(3), 'base64url').toString());
    expect(echoed[shard]).not.toBe('FFFFFFF/FFFFFFFF');
  });

  it('primary down: writes answer 503 with a clear body, reads go on from the replica, /health says so; back up, writes resume', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await request(running.url)
        .post('/users')
        .send({ email: `d${i}@x.io`, name: `D${i}` })
        .expect(201);
      ids.push((response.body as UserBody).data.id);
    }
    const onS0 = ids.filter((id) => decodeShardId(id).shardIndex === 0);
    expect(onS0.length).toBeGreaterThan(0);
    await until('the replicas have the users', async () => {
      const [row] = await topology
        .server('s0', 'replica')
        .query<{ n: string }>('select count(*) as n from users where id = any($1)', [onS0]);
      return Number(row.n) === onS0.length;
    });

    const primary = topology.server('s0');
    await primary.stop();
    await until('s0/primary is seen down', () => registry.health()[0].status === 'down');

    const started = performance.now();
    const refused = await request(running.url).patch(`/users/${onS0[0]}`).send({ name: 'x' }).expect(503);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(refused.body).toMatchObject({ statusCode: 503, error: 'ShardUnavailableError' });
    // what the client can act on; the node, its address and why go to the log
    expect(refused.body.message).toBe('Shard "s0" cannot serve this request now. Retry later.');
    expect(refused.text).not.toMatch(/postgresql:|127\.0\.0\.1/);
    expect(refused.text).not.toContain(primary.connection.password!);

    const read = await request(running.url).get(`/users/${onS0[0]}`).expect(200);
    expect(read.headers['x-served-by']).toBe('s0/replica-1');
    const health = await request(running.url).get('/health').expect(503);
    expect(health.body.error.shards.nodes['s0/primary'].status).toBe('down');
    expect(health.text).not.toContain(primary.connection.password!);

    await primary.start();
    await until('s0/primary is up again', () => registry.health()[0].status === 'up');
    const patched = await request(running.url).patch(`/users/${onS0[0]}`).send({ name: 'back' }).expect(200);
    expect((patched.body as UserBody).data.name).toBe('back');
    const [row] = await primary.query<{ n: string }>('select count(*) as n from users where id = any($1)', [onS0]);
    expect(Number(row.n)).toBe(onS0.length);
  });
  it('a shard stopped under load: in-flight writes and cross-shard reads answer 503 from the first moment, never 500', async () => {
    const statuses: Record<string, number> = {};
    let stopping = false;
    const count = (what: string, status: number) =>
      (statuses[`${what} ${status}`] = (statuses[`${what} ${status}`] ?? 0) + 1);
    const load = async (what: string, call: () => request.Test) => {
      while (!stopping) count(what, (await call()).status);
    };
    const clients = [
      ...Array.from({ length: 4 }, (_, i) =>
        load('POST /users', () =>
          request(running.url)
            .post('/users')
            .send({ email: `l${i}@x.io`, name: 'L' }),
        ),
      ),
      load('GET /users', () => request(running.url).get('/users?limit=5')),
      load('GET /stats', () => request(running.url).get('/stats')),
    ];
    await new Promise((resolve) => setTimeout(resolve, 300));
    const primary = topology.server('s0');
    const replica = topology.server('s0', 'replica');
    await Promise.all([primary.stop(), replica.stop()]); // no waiting for the monitor: requests run all along
    await new Promise((resolve) => setTimeout(resolve, 700));
    stopping = true;
    await Promise.all(clients);
    await Promise.all([primary.start(), replica.start()]);
    await until('s0 is up again', () =>
      registry
        .health()
        .filter((n) => n.shard === 's0')
        .every((n) => n.status === 'up'),
    );
    const kinds = Object.keys(statuses);
    expect(kinds.filter((k) => !/ (200|201|503)$/.test(k))).toEqual([]);
    expect(kinds).toEqual(expect.arrayContaining(['POST /users 503', 'GET /users 503', 'GET /stats 503']));
    await request(running.url).post('/users').send({ email: 'after@x.io', name: 'A' }).expect(201);
  });
});
