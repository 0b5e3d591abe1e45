/**
 * Bit layout of a shard-aware 64-bit id: sign 0 | time | sequence | shard | worker. The sequence sits
 * above the shard so one generator's ids increase even while it deals them out across shards.
 */
export interface ShardIdLayout {
  /** Milliseconds since the Unix epoch that time 0 stands for. @default 2024-01-01T00:00:00Z */
  epoch: number;
  /** Bits for the shard index (up to 2^bits shards). @default 10 */
  shardBits: number;
  /** Bits for the worker (process) id. @default 5 */
  workerBits: number;
  /** Bits for the per-millisecond sequence. @default 7 */
  sequenceBits: number;
}

export const DEFAULT_ID_LAYOUT: Readonly<ShardIdLayout> = Object.freeze({
  epoch: Date.UTC(2024, 0, 1),
  shardBits: 10,
  workerBits: 5,
  sequenceBits: 7,
});

/** Time bits an id keeps at least: 2^41 ms is about 69 years from the epoch. */
export const MIN_TIME_BITS = 41;

/** The parts of an id. */
export interface DecodedShardId {
  timestamp: number;
  shardIndex: number;
  workerId: number;
  sequence: number;
}

/** Splits an id (bigint, or its decimal string or safe-integer number) into its parts. */
export function decodeShardId(id: bigint | string | number, layout: ShardIdLayout = DEFAULT_ID_LAYOUT): DecodedShardId {
  const value = BigInt(id);
  const mask = (bits: number) => (1n << BigInt(bits)) - 1n;
  const { shardBits, workerBits, sequenceBits } = layout;
  return {
    workerId: Number(value & mask(workerBits)),
    shardIndex: Number((value >> BigInt(workerBits)) & mask(shardBits)),
    sequence: Number((value >> BigInt(workerBits + shardBits)) & mask(sequenceBits)),
    timestamp: Number(value >> BigInt(workerBits + shardBits + sequenceBits)) + layout.epoch,
  };
}
