/**
 * Names of the prepared transactions of a cross-shard transaction. Deterministic: the deciding
 * (coordinator) shard, its local transaction id (`pg_current_xact_id()`, 64 bits, never reused on that
 * server's timeline) and the participant shard. No process or random part, so any instance of the
 * application can resolve any prepared transaction it finds: the coordinator's decision row (or the fate
 * of its local transaction) says commit or roll back.
 */
export const GID_PREFIX = 'nms:';

export interface GlobalTransactionId {
  coordinator: string;
  /** The coordinator's transaction id, as decimal text (xid8). */
  xid: string;
  participant: string;
}

/** PostgreSQL limits a prepared transaction's id to 199 bytes. */
const MAX_GID_BYTES = 199;

export function formatGid(id: GlobalTransactionId): string {
  const gid = `${GID_PREFIX}${encodeURIComponent(id.coordinator)}:${id.xid}:${encodeURIComponent(id.participant)}`;
  if (Buffer.byteLength(gid) > MAX_GID_BYTES) {
    throw new RangeError(
      `the prepared transaction id for shards "${id.coordinator}" and "${id.participant}" is longer than ${MAX_GID_BYTES} bytes: use shorter shard names`,
    );
  }
  return gid;
}

/** Undefined for a prepared transaction that is not ours. */
export function parseGid(gid: string): GlobalTransactionId | undefined {
  if (!gid.startsWith(GID_PREFIX)) return undefined;
  const parts = gid.slice(GID_PREFIX.length).split(':');
  if (parts.length !== 3 || !/^\d+$/.test(parts[1])) return undefined;
  try {
    return { coordinator: decodeURIComponent(parts[0]), xid: parts[1], participant: decodeURIComponent(parts[2]) };
  } catch {
    return undefined;
  }
}

/** The id as an SQL string literal (PREPARE TRANSACTION and COMMIT PREPARED take no parameters). */
export function gidLiteral(gid: string): string {
  return `'${gid.replace(/'/g, "''")}'`;
}
