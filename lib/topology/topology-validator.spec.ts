import { findTopologyProblems } from './topology-validator.js';

const entities = [class Entity {}];
const node = (port: number) => ({ host: 'db', port, user: 'app', password: 's3cret', dbName: 'app' });

describe('findTopologyProblems', () => {
  it('accepts URL and field nodes, replicas with weights', () => {
    expect(
      findTopologyProblems({
        shards: {
          s0: {
            primary: { clientUrl: 'postgresql://app:pw@db0:5432/app' },
            replicas: [{ clientUrl: 'postgres://app@db0-r1/app', weight: 2 }],
          },
          s1: { primary: node(5433), replicas: [{ ...node(5434), weight: 0.5 }] },
        },
        mikroOrm: { entities, debug: true, pool: { max: 5 } },
      }),
    ).toEqual([]);
  });

  it('lists every problem at once, with the path and the fix', () => {
    const problems = findTopologyProblems({
      shards: {
        s0: { primary: { clientUrl: 'mysql://root:topsecret@db/app' }, replica: [] },
        s1: { replicas: {} },
        s2: {
          primary: { host: '', port: 0, dbName: '', user: 3, hostname: 'x' },
          replicas: [{ ...node(1), weight: -1 }, 'db'],
        },
        s3: { primary: { clientUrl: 'postgresql://db:5432/app', host: 'db' } },
        s4: { primary: { clientUrl: 'postgresql://db:5432' } },
      },
      strategy: 'hash',
      mikroOrm: { entities: [], clientUrl: 'postgresql://x/y', replicas: [], driver: {} },
    });
    expect(problems).toEqual([
      'shards.s0 has unknown key "replica" (allowed: primary, replicas, primaryShare)',
      'shards.s0.primary.clientUrl is not a postgresql:// URL (expected postgresql://user:password@host:5432/dbname)',
      'shards.s1 has no primary: add primary: { clientUrl } or { host, port, user, password, dbName }',
      'shards.s1.replicas must be an array of nodes',
      'shards.s2.primary has unknown key "hostname" (allowed: host, port, user, password, dbName)',
      'shards.s2.primary.host must be a non-empty string',
      'shards.s2.primary.port must be an integer from 1 to 65535',
      'shards.s2.primary.dbName must name the database',
      'shards.s2.primary.user must be a string',
      'shards.s2.replicas[0].weight must be a positive number',
      'shards.s2.replicas[1] must be an object: { clientUrl } or { host, port, user, password, dbName }',
      'shards.s3.primary has unknown key "host" (give either clientUrl or host/port/user/password/dbName, not both)',
      'shards.s4.primary.clientUrl names no database: end it with /dbname',
      'mikroOrm.clientUrl is a per-node setting: put connection details in shards.<name>.primary / replicas instead',
      'mikroOrm.replicas is a per-node setting: put connection details in shards.<name>.primary / replicas instead',
      'mikroOrm.driver is set by ShardingModule (PostgreSQL driver, one context per node): remove it',
      'mikroOrm.entities must list your entities',
    ]);
    expect(problems.join('\n')).not.toMatch(/topsecret|s3cret/);
  });

  it('finds the same node listed twice, localhost and 127.0.0.1 alike, across shards', () => {
    expect(
      findTopologyProblems({
        shards: {
          a: { primary: { clientUrl: 'postgresql://u:p@localhost:5432/app' } },
          b: {
            primary: { host: '127.0.0.1', port: 5432, dbName: 'app' },
            replicas: [{ host: '127.0.0.1', port: 5432, dbName: 'other' }],
          },
        },
        mikroOrm: { entities },
      }),
    ).toEqual([
      'shards.b.primary and shards.a.primary are the same node (postgresql://127.0.0.1:5432/app): every node must be a distinct server or database',
    ]);
  });

  it('explains an empty or missing topology', () => {
    expect(findTopologyProblems(undefined)).toHaveLength(1);
    expect(findTopologyProblems({ shards: {} })).toEqual([
      '"shards" must name at least one shard, e.g. shards: { s0: { primary: { clientUrl: "postgresql://app@db0:5432/app" } } }',
      '"mikroOrm" is missing: pass at least mikroOrm: { entities: [...] }',
    ]);
  });
});
