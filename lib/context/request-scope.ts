import type { EntityManager } from '@mikro-orm/postgresql';
import type { ShardNode } from '../topology/shard-node.js';
import { decodeConsistencyTokens, encodeConsistencyToken } from './consistency-token.js';
import type { ShardingRuntime } from './sharding-runtime.js';

/**
 * State shared by every routed call of one request (or one `ShardingService.run`, or one top-level
 * decorated call): the forks per node, so nested calls on a node join one identity map and unit of
 * work; the shards written, so later replica reads go to the primary; the shard lock.
 */
export class RequestScope {
  // Most scopes hold one fork, read one shard and write nowhere: the first entry is kept inline,
  // collections are made only for a second one.
  private firstForkNode: string | undefined;
  private firstFork: EntityManager | undefined;
  private forks: Map<string, EntityManager> | undefined;
  private firstReplicaShard: string | undefined;
  private firstReplica: ShardNode | undefined;
  private replicas: Map<string, ShardNode> | undefined;
  /** shard → number of write statements sent there in this context. */
  private written: Map<string, number> | undefined;
  /**
   * shard → the WAL position reads must see, how many writes it covers, and whether it came from a
   * token (an earlier context: time has passed, a replica may well have caught up).
   */
  private positions: Map<string, { lsn: bigint; covers: number; fromToken: boolean }> | undefined;
  lockedShard: string | undefined;
  /**
   * The request this context belongs to has been answered: its root frame is no longer current (a
   * guard's `enterWith` leaves it on the connection's async resource; calls there open their own).
   */
  closed = false;
  /** A request header's token, decoded at the first position asked (a context that reads no replica never does). */
  private pendingToken: { header: string; source: string } | undefined;
  /** The HTTP response that carries this context's consistency token, set again whenever a position changes. */
  private tokenOut: { response: TokenResponse; header: string } | undefined;

  constructor(
    readonly runtime: ShardingRuntime,
    readonly lockShard: boolean,
  ) {}

  fork(nodeId: string): EntityManager | undefined {
    return this.firstForkNode === nodeId ? this.firstFork : this.forks?.get(nodeId);
  }

  keepFork(nodeId: string, em: EntityManager): void {
    if (this.firstForkNode === undefined) {
      this.firstForkNode = nodeId;
      this.firstFork = em;
    } else (this.forks ??= new Map()).set(nodeId, em);
  }

  /**
   * Lets go of the forks once the call (or request) that opened the scope has settled. Timers and
   * promises created during the call keep its context — and so this scope — for a while after (a pool's
   * idle-connection timer for seconds): without this they would keep every fork, its identity map and
   * entities alive with it. Work the call left running that uses `this.em` afterwards gets a new fork.
   */
  release(): void {
    this.firstForkNode = undefined;
    this.firstFork = undefined;
    this.forks = undefined;
  }

  /** Ends a request's context when its response closes: released, and its root frame no longer current. */
  close(): void {
    this.closed = true;
    this.release();
  }

  /** The node this context reads the shard from, once chosen. */
  replica(shard: string): ShardNode | undefined {
    return this.firstReplicaShard === shard ? this.firstReplica : this.replicas?.get(shard);
  }

  keepReplica(shard: string, node: ShardNode): ShardNode {
    if (this.firstReplicaShard === undefined || this.firstReplicaShard === shard) {
      this.firstReplicaShard = shard;
      this.firstReplica = node;
    } else (this.replicas ??= new Map()).set(shard, node);
    return node;
  }

  /** Forgets the node chosen for the shard's reads (it went down): the next read chooses again. */
  forgetReplica(shard: string): void {
    if (this.firstReplicaShard === shard) {
      this.firstReplicaShard = undefined;
      this.firstReplica = undefined;
    } else this.replicas?.delete(shard);
  }

  markWritten(shard: string): void {
    (this.written ??= new Map()).set(shard, (this.written.get(shard) ?? 0) + 1);
  }

  wasWritten(shard: string): boolean {
    return this.written?.has(shard) ?? false;
  }

  /** Writes sent to the shard so far (to know which ones a WAL position read afterwards covers). */
  writesTo(shard: string): number {
    return this.written?.get(shard) ?? 0;
  }

  /** A write was sent to the shard whose WAL position is not known yet: its reads go to the primary. */
  hasUnrecordedWrite(shard: string): boolean {
    const writes = this.written?.get(shard);
    return writes !== undefined && writes > (this.positions?.get(shard)?.covers ?? 0);
  }

  /** Reads of the shard must see at least this WAL position (a commit here, or the incoming token). */
  requiredPosition(shard: string): bigint | undefined {
    if (this.pendingToken) this.settleToken();
    return this.positions?.get(shard)?.lsn;
  }

  /**
   * Lowers a position that came with a token to `lsn` (where the shard's primary is: a position beyond it
   * was never written, and would send every read to the primary).
   */
  capPosition(shard: string, lsn: bigint): void {
    const known = this.positions?.get(shard);
    if (known && known.lsn > lsn) {
      this.positions!.set(shard, { ...known, lsn });
      this.publishToken();
    }
  }

  /**
   * Sends the context's consistency token in `header` of `response` from now on: set whenever a position
   * is recorded or adopted (while the headers are not sent), so the response carries every commit of the
   * request without wrapping the response's own methods.
   */
  sendTokenTo(response: TokenResponse, header: string): void {
    this.tokenOut = { response, header };
  }

  private publishToken(): void {
    const out = this.tokenOut;
    if (out === undefined || out.response.headersSent) return;
    const token = encodeConsistencyToken(this.recordedPositions());
    if (token) out.response.setHeader(out.header, token);
  }

  /** Keeps a request header's token to decode when a position is first needed. */
  adoptTokenLater(header: string, source: string): void {
    this.pendingToken = { header, source };
  }

  /** Decodes the pending token (`InvalidConsistencyTokenError` when it is not one of ours). */
  private settleToken(): void {
    const { header, source } = this.pendingToken!;
    this.pendingToken = undefined;
    this.adoptToken(decodeConsistencyTokens(header, this.runtime.registry.shardNames, source));
  }

  /** How many of the shard's writes the recorded position covers. */
  recordedCover(shard: string): number {
    return this.positions?.get(shard)?.covers ?? 0;
  }

  /** Records a WAL position read after `covers` writes to the shard (positions only move forward). */
  recordPosition(shard: string, lsn: bigint, covers = this.writesTo(shard)): void {
    const known = (this.positions ??= new Map()).get(shard);
    const newer = !known || lsn > known.lsn;
    this.positions.set(shard, {
      lsn: newer ? lsn : known.lsn,
      covers: Math.max(covers, known?.covers ?? 0),
      fromToken: newer ? false : known.fromToken,
    });
    if (newer) this.publishToken();
  }

  /** Takes the positions of a consistency token (from an earlier context). */
  adoptToken(positions: ReadonlyMap<string, bigint>): void {
    for (const [shard, lsn] of positions) {
      const known = this.positions?.get(shard);
      if (!known || lsn > known.lsn)
        (this.positions ??= new Map()).set(shard, { lsn, covers: known?.covers ?? 0, fromToken: true });
    }
    if (positions.size) this.publishToken();
  }

  /**
   * Whether a replica the monitor last saw behind the shard's required position is worth asking live:
   * yes for a position from a token; no for a commit of this context a moment ago (a replica has
   * practically never replayed it yet, and the read would pay two round trips instead of one).
   */
  worthCheckingLive(shard: string): boolean {
    if (this.pendingToken) this.settleToken();
    return this.positions?.get(shard)?.fromToken ?? false;
  }

  /**
   * Every shard's required WAL position: what the consistency token carries. An incoming token that is
   * not valid is left out (the response still gets the positions of this context's own writes).
   */
  recordedPositions(): ReadonlyMap<string, bigint> {
    if (this.pendingToken) {
      try {
        this.settleToken();
      } catch {
        // never read: the request did not need it, and the answer must not fail for it
      }
    }
    return new Map([...(this.positions ?? [])].map(([shard, { lsn }]) => [shard, lsn]));
  }
}

/** What a consistency token is written to: a Node.js `ServerResponse` (Express's; Fastify's `reply.raw`). */
export interface TokenResponse {
  readonly headersSent: boolean;
  setHeader(name: string, value: string): unknown;
}

/**
 * The routed call being executed: what `ShardedEntityManager` acts on — the scope's fork on `node`
 * (made at the first use), or the transaction's EntityManager inside a transaction.
 */
export interface CallFrame {
  readonly scope: RequestScope;
  /** `UsersService.findOne`, for error messages. */
  readonly caller: string;
  /** Absent on the root frame opened by the interceptor. */
  readonly shard?: string;
  readonly node?: ShardNode;
  /** Inside `em.transactional()` on the shard's primary: that transaction's EntityManager. */
  readonly transactionEm?: EntityManager;
  /**
   * Transactions open around this call, by MikroORM context name. MikroORM's own context holds only the
   * innermost one, so a call back into shard A from inside shard B's transaction, itself inside A's,
   * finds A's here.
   */
  readonly transactions?: ReadonlyMap<string, EntityManager>;
  /** Inside `@ReadReplica()` / a read-only run: writes are refused. */
  readonly readOnly: boolean;
  /** This call opened the scope: the scope is released when it settles. */
  readonly opened?: boolean;
  /** The cross-shard transaction open around this call: routed calls join its part on their shard. */
  readonly transaction?: FrameTransaction;
}

/** One shard's part of a cross-shard transaction: the acting primary and the EntityManager of its transaction. */
export interface TransactionPart {
  readonly shard: string;
  readonly node: ShardNode;
  readonly em: EntityManager;
}

/**
 * A cross-shard transaction as routing sees it (lib/transactions owns the protocol): every routed call
 * inside joins the shard's part, opened on its primary at the first call there.
 */
export interface FrameTransaction {
  join(shard: string, caller: string): TransactionPart | Promise<TransactionPart>;
  /** Inside `ReferenceTables.write()`: reference entities may be changed. */
  readonly referenceWrite: boolean;
  /** Its callback has finished: a call still using one of its parts (not awaited inside it) is refused. */
  readonly ended: boolean;
  /** The error for such a call. */
  endedError(caller: string): Error;
}

/**
 * Builds a frame. Every frame has the same fields in the same order, so frames share one hidden class
 * and the lookups on each `this.em` access stay monomorphic.
 */
export function callFrame(
  scope: RequestScope,
  caller: string,
  readOnly: boolean,
  route: {
    shard?: string;
    node?: ShardNode;
    transactionEm?: EntityManager;
    transactions?: ReadonlyMap<string, EntityManager>;
    opened?: boolean;
    transaction?: FrameTransaction;
  } = {},
): CallFrame {
  return {
    scope,
    caller,
    shard: route.shard,
    node: route.node,
    transactionEm: route.transactionEm,
    transactions: route.transactions,
    readOnly,
    opened: route.opened ?? false,
    transaction: route.transaction,
  };
}
