import { ShardRoutingError } from '../errors/shard-routing.error.js';
import { DEFAULT_ID_LAYOUT, MIN_TIME_BITS, type ShardIdLayout } from './shard-id-layout.js';

/** Options of {@link ShardIdGenerator}. */
export interface ShardIdGeneratorOptions {
  /** The shard names, in configuration order: an id stores the shard's position in this list. */
  shards: readonly string[];
  /** This process's id, distinct per process for ids unique across processes. @default 0 */
  workerId?: number;
  layout?: Partial<ShardIdLayout>;
  /** Clock in ms (tests). @default Date.now */
  clock?: () => number;
}

/**
 * Instagram-style 64-bit ids that embed their shard, so `@ShardBy('id')` with `snowflakeStrategy()`
 * needs no lookup. Ids from one generator strictly increase; with distinct worker ids they are unique
 * across processes. If the clock goes backwards the generator keeps counting from the last time it
 * used (it never repeats or goes back); a full sequence borrows the next millisecond.
 */
export class ShardIdGenerator {
  readonly layout: ShardIdLayout;
  private readonly shards: readonly string[];
  private readonly workerId: bigint;
  private readonly clock: () => number;
  private lastTime = -1;
  private sequence = 0;
  private nextShard = 0;

  constructor(options: ShardIdGeneratorOptions) {
    this.layout = { ...DEFAULT_ID_LAYOUT, ...options.layout };
    this.shards = options.shards;
    this.clock = options.clock ?? Date.now;
    const { shardBits, workerBits, sequenceBits } = this.layout;
    const workerId = options.workerId ?? 0;
    const problems: string[] = [];
    if (shardBits + workerBits + sequenceBits > 63 - MIN_TIME_BITS) {
      problems.push(
        `shardBits + workerBits + sequenceBits must be at most ${63 - MIN_TIME_BITS}, so ${MIN_TIME_BITS} bits (~69 years) stay for time`,
      );
    }
    if (this.shards.length > 2 ** shardBits)
      problems.push(`${this.shards.length} shards do not fit in ${shardBits} shard bits`);
    if (!Number.isInteger(workerId) || workerId < 0 || workerId >= 2 ** workerBits) {
      problems.push(`workerId must be an integer from 0 to ${2 ** workerBits - 1} (got ${workerId})`);
    }
    if (problems.length) throw new ShardRoutingError(`ShardIdGenerator: ${problems.join('; ')}.`);
    this.workerId = BigInt(workerId);
  }

  /** A new id on `shard`, or on the next shard in turn (an even spread) when none is given. */
  next(shard?: string): bigint {
    const index = shard === undefined ? this.nextShard++ % this.shards.length : this.shards.indexOf(shard);
    if (index < 0) {
      throw new ShardRoutingError(
        `ShardIdGenerator.next: "${shard}" is not a configured shard (${this.shards.join(', ')}).`,
      );
    }
    const { shardBits, workerBits, sequenceBits, epoch } = this.layout;
    const now = Math.max(Math.floor(this.clock()), this.lastTime);
    if (now < epoch || now - epoch >= 2 ** (63 - shardBits - workerBits - sequenceBits)) {
      throw new ShardRoutingError(
        `ShardIdGenerator: the clock (${new Date(now).toISOString()}) is outside the id layout's time range from its epoch ` +
          `${new Date(epoch).toISOString()}; check the system clock or the layout's epoch.`,
      );
    }
    if (now === this.lastTime) {
      this.sequence = (this.sequence + 1) % 2 ** sequenceBits;
      if (this.sequence === 0) this.lastTime += 1; // this millisecond is full: borrow the next
    } else {
      this.lastTime = now;
      this.sequence = 0;
    }
    return (
      (BigInt(this.lastTime - epoch) << BigInt(sequenceBits + shardBits + workerBits)) |
      (BigInt(this.sequence) << BigInt(shardBits + workerBits)) |
      (BigInt(index) << BigInt(workerBits)) |
      this.workerId
    );
  }

  /** `next()` as a decimal string (JSON-safe; what a bigint column maps to in `'string'` mode). */
  nextString(shard?: string): string {
    return this.next(shard).toString();
  }
}
