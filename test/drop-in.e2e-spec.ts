import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { hashStrategy, NodeRegistry, ShardingSchema, waitForReplicas } from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { AppModule } from './drop-in/app.module.js';

const SHARDS = ['s0', 's1'];
const shardOf = (key: string) => hashStrategy().shardFor(key, SHARDS) as string;
/** Two user ids on each shard. */
const USERS = (() => {
  const found: Record<string, string[]> = { s0: [], s1: [] };
  for (let i = 0; found.s0.length < 2 || found.s1.length < 2; i++) {
    const id = `user-${i}`;
    if (found[shardOf(id)].length < 2) found[shardOf(id)].push(id);
  }
  return [...found.s0, ...found.s1];
})();

describe('an app written for @mikro-orm/nestjs, switched to ShardingModule (test/drop-in)', () => {
  let topology: EmbeddedTopology;
  let app: INestApplication;

  /** Which primaries hold the row, asked on each server directly. */
  const primariesHolding = async (table: string, id: string) => {
    const holding: string[] = [];
    for (const shard of SHARDS) {
      const rows = await topology.server(shard).query(`select 1 from ${table} where id = $1`, [id]);
      if (rows.length) holding.push(shard);
    }
    return holding;
  };

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 2, replicasPerShard: 1 });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(topology.shards)] }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
    await app.get(ShardingSchema).refresh();
    for (const id of USERS) {
      await request(app.getHttpServer())
        .post('/users')
        .send({ id, email: `${id}@example.com`, name: id })
        .expect(201);
    }
    await waitForReplicas(app.get(NodeRegistry));
  });

  afterAll(async () => {
    await app?.close();
    await topology?.stop();
  });

  it('each user registered through the repository is on the shard of its id, and only there', async () => {
    for (const id of USERS) expect(await primariesHolding('drop_in_users', id)).toEqual([shardOf(id)]);
  });

  it('the guard loads the caller from its shard: a registered user passes, an unknown one is refused', async () => {
    const [id] = USERS;
    const response = await request(app.getHttpServer()).get(`/users/${id}`).set('x-user', id).expect(200);
    expect(response.body).toMatchObject({ id, email: `${id}@example.com` });
    await request(app.getHttpServer()).get(`/users/${id}`).set('x-user', 'nobody').expect(403);
    await request(app.getHttpServer()).get(`/users/${id}`).expect(403);
  });

  it('reads through the repositories come from the replica of the key’s shard', async () => {
    const id = USERS[3];
    const replica = topology.server(shardOf(id), 'replica');
    await replica.query('select pg_wal_replay_pause()');
    try {
      // changed on the primary only: the replica, paused, still has the old name
      await topology.server(shardOf(id)).query(`update drop_in_users set name = 'renamed' where id = $1`, [id]);
      const profile = await request(app.getHttpServer()).get(`/users/${id}`).set('x-user', id).expect(200);
      expect(profile.body.name).toBe(id);
      const byEmail = await request(app.getHttpServer())
        .get(`/users/${id}/by-email/${id}@example.com`) // the custom repository's method
        .set('x-user', id)
        .expect(200);
      expect(byEmail.body).toMatchObject({ id, name: id });
    } finally {
      await replica.query('select pg_wal_replay_resume()');
    }
    await waitForReplicas(app.get(NodeRegistry));
    const after = await request(app.getHttpServer()).get(`/users/${id}`).set('x-user', id).expect(200);
    expect(after.body.name).toBe('renamed');
  });

  it('@Transactional() orders land on the user’s shard; a failing one rolls the whole call back there', async () => {
    for (const userId of USERS) {
      const placed = await request(app.getHttpServer())
        .post(`/users/${userId}/orders`)
        .set('x-user', userId)
        .send({
          items: [
            { id: `${userId}-o1`, total: 5 },
            { id: `${userId}-o2`, total: 7 },
          ],
        })
        .expect(201);
      expect(placed.body.map((order: { id: string }) => order.id)).toEqual([`${userId}-o1`, `${userId}-o2`]);
      for (const order of ['o1', 'o2'])
        expect(await primariesHolding('drop_in_orders', `${userId}-${order}`)).toEqual([shardOf(userId)]);

      // the first order was flushed before the second failed: the rollback takes it back
      await request(app.getHttpServer())
        .post(`/users/${userId}/orders`)
        .set('x-user', userId)
        .send({
          items: [
            { id: `${userId}-o3`, total: 5 },
            { id: `${userId}-o4`, total: -1 },
          ],
        })
        .expect(400);
      expect(await primariesHolding('drop_in_orders', `${userId}-o3`)).toEqual([]);
      expect(await primariesHolding('drop_in_orders', `${userId}-o4`)).toEqual([]);
    }
    await waitForReplicas(app.get(NodeRegistry));
    const listed = await request(app.getHttpServer()).get(`/users/${USERS[0]}/orders`).set('x-user', USERS[0]);
    expect(listed.body.map((order: { id: string }) => order.id)).toEqual([`${USERS[0]}-o1`, `${USERS[0]}-o2`]);
  });
});
