import request, { type Response } from 'supertest';
import { NodeRegistry } from '../lib/index.js';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';
import { bootstrap, type RunningSampleApp } from '../sample-app/bootstrap.js';
import { Order } from '../sample-app/users/order.entity.js';
import { User } from '../sample-app/users/user.entity.js';
import { USER_SORTS } from '../sample-app/users/users-directory.service.js';

type Method = 'get' | 'post' | 'patch';

/** A request and the status it must get; `body` undefined sends none, a string is sent as raw JSON text. */
interface Case {
  method: Method;
  path: string;
  body?: unknown;
  status: 400 | 404;
  message?: RegExp;
}

const INT8_MAX = '9223372036854775807';

/** Ordinary bad input to the sample app: each answer is a 400 or 404 a client can act on, never a 500. */
describe('sample app over HTTP: bad input', () => {
  let topology: EmbeddedTopology;
  let running: RunningSampleApp;
  let userId: string;

  beforeAll(async () => {
    topology = await startEmbeddedTopology({ shards: 1, replicasPerShard: 0 });
    running = await bootstrap({ SHARDING_SHARDS: JSON.stringify(topology.shards), PORT: '0' });
    const created = await request(running.url)
      .post('/users')
      .send({ email: 'ada@example.com', name: 'Ada' })
      .expect(201);
    userId = created.body.data.id as string;
  });

  afterAll(async () => {
    await running?.close();
    await topology?.stop();
  });

  const send = async ({ method, path, body }: Pick<Case, 'method' | 'path' | 'body'>): Promise<Response> => {
    const call = request(running.url)[method](path);
    if (body === undefined) return call;
    // raw text keeps `null` a JSON null (supertest would send nothing for it)
    return call.set('content-type', 'application/json').send(typeof body === 'string' ? body : JSON.stringify(body));
  };

  /** The answer has the status and says why, without SQL, node addresses or a stack. */
  const expectAnswer = (response: Response, { method, path, status, message }: Case) => {
    const label = `${method.toUpperCase()} ${path.slice(0, 80)} → ${response.status} ${response.text.slice(0, 300)}`;
    expect({ label, status: response.status }).toEqual({ label, status });
    expect(typeof response.body.message).toBe('string');
    if (message) {
      expect({ label, message: response.body.message }).toEqual({ label, message: expect.stringMatching(message) });
    }
    expect(response.text).not.toMatch(/postgresql:\/\/|127\.0\.0\.1|\bat .+\.[jt]s:\d+|node_modules|"stack"/);
    expect(response.text).not.toMatch(
      /\b(select|insert into|update "?\w+"? set|violates|syntax error|out of range)\b/i,
    );
  };

  const run = async (cases: Case[]) => {
    for (const c of cases) expectAnswer(await send(c), c);
  };

  it('POST /users: name and email are non-empty strings of at most 255 characters, with no NUL byte', async () => {
    const ok = { email: 'b@example.com', name: 'Bob' };
    const post = (body: unknown, message?: RegExp): Case => ({
      method: 'post',
      path: '/users',
      body,
      status: 400,
      message,
    });
    await run([
      post({ ...ok, name: 'n'.repeat(256) }, /name.*255/),
      post({ ...ok, email: `${'e'.repeat(250)}@example.com` }, /email.*255/),
      post({ ...ok, name: '' }, /name.*empty/),
      post({ ...ok, email: '' }, /email.*empty/),
      post({ ...ok, name: '   ' }, /name.*empty/),
      post({ ...ok, name: 'a\u0000b' }, /name.*NUL/),
      post({ ...ok, email: '\u0000' }, /email.*NUL/),
      post('{"email":"b@example.com","name":"lone \\ud800 surrogate"}', /name.*Unicode/),
      post({ ...ok, name: 123 }, /name.*string/),
      post({ ...ok, name: null }, /name.*string/),
      post({ ...ok, email: ['a@example.com'] }, /email.*string/),
      post({ name: 'no email' }, /email.*string/),
      post({ ...ok, role: 'admin' }, /unknown field "role"/i),
      post('null'), // Express's JSON parser refuses a top-level null itself; the controller would too
      post('[]', /JSON object/),
      post('"text"'),
      post('{"email":'),
    ]);
    // the limits are PostgreSQL's: 255 characters (not UTF-16 units) fit
    const longest = { email: `${'e'.repeat(243)}@example.com`, name: '😀'.repeat(255) };
    const created = await request(running.url).post('/users').send(longest).expect(201);
    expect(created.body.data).toMatchObject(longest);
  });

  it('PATCH /users/:id: a JSON object of known fields, at least one, each valid', async () => {
    const patch = (body: unknown, message?: RegExp): Case => ({
      method: 'patch',
      path: `/users/${userId}`,
      body,
      status: 400,
      message,
    });
    await run([
      patch({ name: 123 }, /name.*string/),
      patch('null'),
      patch({}, /nothing to update/i),
      patch('[]', /JSON object/),
      patch('[{"name":"x"}]', /JSON object/),
      patch({ nick: 'x' }, /unknown field "nick"/i),
      patch({ name: 'x', id: '1' }, /unknown field "id"/i),
      patch({ name: 'x'.repeat(256) }, /name.*255/),
      patch({ email: 'a\u0000' }, /email.*NUL/),
      patch({ name: '' }, /name.*empty/),
      patch({ email: null }, /email.*string/),
      { method: 'patch', path: `/users/${userId}`, status: 400 }, // no body at all
      { method: 'patch', path: `/users/${INT8_MAX}`, body: { name: 'x' }, status: 404 },
    ]);
    const read = await request(running.url).get(`/users/${userId}`).expect(200);
    expect(read.body.data).toMatchObject({ id: userId, name: 'Ada', email: 'ada@example.com' }); // nothing changed
    await request(running.url).patch(`/users/${userId}`).send({ email: 'ada@example.org' }).expect(200);
  });

  it('POST /users/:id/orders: totalCents is an integer within int4', async () => {
    const order = (totalCents: unknown): Case => ({
      method: 'post',
      path: `/users/${userId}/orders`,
      body: { totalCents },
      status: 400,
      message: /totalCents.*integer/,
    });
    await run([
      order(2 ** 31),
      order(-(2 ** 31) - 1),
      order(1e308),
      order(-1e308),
      order(2 ** 53 + 2),
      order(1.5),
      order('10'),
      order(null),
      order(true),
      order({ value: 1 }),
      { method: 'post', path: `/users/${userId}/orders`, body: {}, status: 400, message: /totalCents/ },
      { method: 'post', path: `/users/${userId}/orders`, body: 'null', status: 400 },
      { method: 'post', path: `/users/${userId}/orders`, body: '[]', status: 400, message: /JSON object/ },
      {
        method: 'post',
        path: `/users/${userId}/orders`,
        body: { totalCents: 1, userId: '1' },
        status: 400,
        message: /unknown field "userId"/i,
      },
      { method: 'post', path: `/users/${INT8_MAX}/orders`, body: { totalCents: 1 }, status: 404 },
    ]);
    for (const totalCents of [2 ** 31 - 1, -(2 ** 31), 0]) {
      await request(running.url).post(`/users/${userId}/orders`).send({ totalCents }).expect(201);
    }
    const orders = await request(running.url).get(`/users/${userId}/orders`).expect(200);
    expect(orders.body.data.map((o: { totalCents: number }) => o.totalCents)).toEqual([2 ** 31 - 1, -(2 ** 31), 0]);
  });

  it('ids: a decimal 64-bit integer (400 otherwise); one no user has is a 404', async () => {
    const malformed = [
      '9223372036854775808', // 2^63
      '18446744073709551615', // 2^64 - 1
      '99999999999999999999', // 20 digits
      '123456789012345678901234567890',
      '-9223372036854775809',
      '+1',
      '%201', // " 1"
      '1%20',
      '01',
      '-0',
      '1.0',
      '1e3',
      '0x1F',
      'abc',
      '1abc',
      'abc1',
      '-',
      '%00',
      '1%00',
      '%E2%80%8B1', // zero-width space
      '%D9%A1', // Arabic-Indic digit one
    ];
    const absent = [INT8_MAX, '-9223372036854775808', '-1', '0', '1', '4611686018427387904'];
    const routes = (id: string): Pick<Case, 'method' | 'path' | 'body'>[] => [
      { method: 'get', path: `/users/${id}` },
      { method: 'patch', path: `/users/${id}`, body: { name: 'x' } },
      { method: 'post', path: `/users/${id}/orders`, body: { totalCents: 1 } },
      { method: 'get', path: `/users/${id}/orders` },
    ];
    await run([
      ...malformed.flatMap((id) => routes(id).map((r) => ({ ...r, status: 400 as const, message: /user id/ }))),
      ...absent.flatMap((id) => routes(id).map((r) => ({ ...r, status: 404 as const, message: /No user/ }))),
    ]);
    await request(running.url).get(`/users/${userId}`).expect(200);
  });

  it('GET /users: query parameters given once, each within its range', async () => {
    const list = (query: string, message?: RegExp): Case => ({
      method: 'get',
      path: `/users?${query}`,
      status: 400,
      message,
    });
    await run([
      list('limit=0', /limit/),
      list('limit=101', /limit/),
      list('limit=1e3', /limit/),
      list('limit=-1', /limit/),
      list('limit=1&limit=2', /limit/),
      list('offset=-1', /offset/),
      list(`offset=${'9'.repeat(30)}`, /offset/),
      list('first=0', /first/),
      list('first=x', /first/),
      list('first=5&first=6', /first/),
      list('orderBy=password', /orderBy/),
      list('orderBy=id&orderBy=name', /orderBy/),
      list('order=sideways', /order/),
      list('order=asc&order=desc', /order/),
      list('first=2&after=@@@'),
      list('first=2&after=a&after=b', /after/),
    ]);
    await request(running.url).get('/users?orderBy=name&order=desc&limit=5').expect(200);
  });

  it('after all of it: every node is still up and a normal request is served', async () => {
    expect(
      running.app
        .get(NodeRegistry)
        .health()
        .map((n) => [n.id, n.status]),
    ).toEqual([['s0/primary', 'up']]);
    const created = await request(running.url).post('/users').send({ email: 'c@example.com', name: 'Cy' }).expect(201);
    await request(running.url).get(`/users/${created.body.data.id}`).expect(200);
  });

  it('indexes every column the app sorts or joins by, each with the id tie-breaker', async () => {
    const registry = running.app.get(NodeRegistry);
    const metadata = registry.fork('s0').getMetadata();
    const column = (entity: typeof User | typeof Order, property: string) =>
      metadata.get<object>(entity).props.find((prop) => prop.name === property)?.fieldNames[0];
    const wanted = [
      // the listing's sorts (the primary key is its own index), keyset pages over (column, id)
      ...USER_SORTS.filter((sort) => sort !== 'id').map((sort) => `users (${column(User, sort)}, id)`),
      // a user's orders: joined by user_id, listed by id
      `orders (${column(Order, 'user')}, id)`,
    ];
    expect(wanted).toHaveLength(4); // users (created_at, id), (email, id), (name, id); orders (user_id, id)
    for (const shard of registry.shardNames) {
      const rows = await topology
        .server(shard)
        .query<{ tablename: string; indexdef: string }>(
          "select tablename, indexdef from pg_indexes where schemaname = current_schema() and tablename in ('users', 'orders')",
        );
      const btrees = rows.map((r) => `${r.tablename} ${/USING btree (\(.*\))$/.exec(r.indexdef)?.[1]}`);
      expect(btrees).toEqual(expect.arrayContaining(wanted));
      // no index left that a composite one already covers
      expect(btrees).not.toContain('orders (user_id)');
    }
  });
});
