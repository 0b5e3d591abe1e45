import { formatGid, gidLiteral, parseGid } from './global-transaction-id.js';

describe('global transaction ids', () => {
  it('round-trips shard names with separators, quotes and non-ASCII letters', () => {
    for (const [coordinator, participant] of [
      ['s0', 's1'],
      ['eu:west', "o'brien"],
      ['zürich', 'shard 7'],
    ]) {
      const gid = formatGid({ coordinator, xid: '123456789012', participant });
      expect(parseGid(gid)).toEqual({ coordinator, xid: '123456789012', participant });
    }
  });

  it('ignores prepared transactions that are not ours', () => {
    expect(parseGid('other:1:2:3')).toBeUndefined();
    expect(parseGid('nms:s0:notanumber:s1')).toBeUndefined();
    expect(parseGid('nms:s0:1')).toBeUndefined();
    expect(parseGid('nms:%E0%A4%A:1:s1')).toBeUndefined();
  });

  it('quotes the literal so a quote in a shard name cannot end it', () => {
    const gid = formatGid({ coordinator: "a'b", xid: '1', participant: 's1' });
    expect(gidLiteral(gid)).toBe(`'nms:a''b:1:s1'`);
  });

  it('refuses ids PostgreSQL would reject', () => {
    expect(() => formatGid({ coordinator: 'x'.repeat(120), xid: '1', participant: 'y'.repeat(120) })).toThrow(
      /longer than 199 bytes/,
    );
  });
});
