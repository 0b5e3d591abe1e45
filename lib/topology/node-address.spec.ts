import { addressKey, describeAddress, nodeAddress } from './node-address.js';

describe('node addresses', () => {
  it('reads URLs and fields alike, and describes them without the password', () => {
    const fromUrl = nodeAddress({ clientUrl: 'postgresql://app%40corp:p%3Ass@db0.internal:6432/orders' });
    expect(fromUrl).toEqual({ host: 'db0.internal', port: 6432, user: 'app@corp', dbName: 'orders' });
    expect(describeAddress(fromUrl)).toBe('postgresql://app%40corp@db0.internal:6432/orders');
    const fromFields = nodeAddress({ host: 'db1', port: 5432, user: 'app', password: 'secret', dbName: 'app' });
    expect(describeAddress(fromFields)).toBe('postgresql://app@db1:5432/app');
  });

  it('defaults the port, and refuses other schemes without echoing them', () => {
    expect(nodeAddress({ clientUrl: 'postgres://db/app' })?.port).toBe(5432);
    expect(nodeAddress({ clientUrl: 'mysql://u:secret@db/app' })).toBeNull();
    expect(describeAddress(null)).toBe('postgresql://(unparseable URL)');
  });

  it('treats the loopback names as one host', () => {
    const key = (host: string) => addressKey({ host, port: 5432, dbName: 'app' });
    expect(key('localhost')).toBe(key('127.0.0.1'));
    expect(key('DB0')).toBe(key('db0'));
    expect(key('db0')).not.toBe(key('db1'));
  });
});
