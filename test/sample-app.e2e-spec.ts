import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { bootstrap, type RunningSampleApp } from '../sample-app/bootstrap.js';

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
      running = await bootstrap({ SHARDING_SHARDS: JSON.stringify(topology.shards), PORT: '0' });
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
    const env = { SHARDING_DATA_DIR: join(parent, 'data'), PORT: '0' };
    try {
      const first = await bootstrap(env);
      const before = (await request(first.url).get('/topology').expect(200)).body as TopologyBody;
      expect(before.shards.flatMap((s) => s.nodes).every((n) => n.reachable)).toBe(true);
      await first.app
        .get((await import('../lib/index.js')).NodeRegistry)
        .fork('s0')
        .execute("insert into users (id, email, name, created_at) values (1, 'a@example.com', 'Ada', now())");
      await first.close();

      const second = await bootstrap(env);
      try {
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
