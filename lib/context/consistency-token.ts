import { InvalidConsistencyTokenError } from '../errors/invalid-consistency-token.error.js';
import { formatLsn, parseLsn } from '../topology/lsn.js';

const VERSION = 'c1.';
const MAX_LENGTH = 4_096;

/**
 * The consistency token: each written shard's primary WAL position, opaque to clients
 * (`c1.` + base64url JSON). A client sends back the last token it received so that its next reads
 * see its own writes, whichever replica serves them.
 */
export function encodeConsistencyToken(positions: ReadonlyMap<string, bigint>): string | undefined {
  if (!positions.size) return undefined;
  const body = Object.fromEntries([...positions].map(([shard, lsn]) => [shard, formatLsn(lsn)]));
  return VERSION + Buffer.from(JSON.stringify(body)).toString('base64url');
}

/**
 * Reads what a request header holds: one token, or several when the header was sent more than once
 * (HTTP servers join repeated headers with ", "): their positions merge, the furthest per shard.
 */
export function decodeConsistencyTokens(
  header: string,
  shards: readonly string[],
  source = 'consistency token',
): Map<string, bigint> {
  const merged = new Map<string, bigint>();
  for (const token of header.split(',')) {
    for (const [shard, lsn] of decodeConsistencyToken(token.trim(), shards, source)) {
      if (!(merged.get(shard)! >= lsn)) merged.set(shard, lsn);
    }
  }
  return merged;
}

/**
 * Reads a token back. Shards this topology does not have are ignored (a token may outlive a topology
 * change); anything that is not a token of ours is an `InvalidConsistencyTokenError` naming `source`
 * (where the token came from: a request header, a `run()` option).
 */
export function decodeConsistencyToken(
  token: string,
  shards: readonly string[],
  source = 'consistency token',
): Map<string, bigint> {
  const fail = (why: string) =>
    new InvalidConsistencyTokenError(
      `${source}: the consistency token is not valid (${why}). Send back exactly the token the last response carried, or none.`,
    );
  if (token.length > MAX_LENGTH) throw fail(`longer than ${MAX_LENGTH} characters`);
  if (!token.startsWith(VERSION)) throw fail(`it does not start with "${VERSION}"`);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token.slice(VERSION.length), 'base64url').toString('utf8'));
  } catch {
    throw fail('not base64url JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw fail('not an object of positions');
  const positions = new Map<string, bigint>();
  for (const [shard, text] of Object.entries(body)) {
    const lsn = parseLsn(text);
    if (lsn === undefined) throw fail(`shard "${shard}" has no WAL position`);
    if (shards.includes(shard)) positions.set(shard, lsn);
  }
  return positions;
}
