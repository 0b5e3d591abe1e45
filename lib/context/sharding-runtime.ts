import type { EntityManager } from '@mikro-orm/postgresql';
import { ChangeSetType, FlushMode, type FlushEventArgs, type TransactionEventArgs } from '@mikro-orm/core';
import { MisplacedEntityError } from '../errors/misplaced-entity.error.js';
import { entityShardKey } from '../routing/entity-shard-key.js';
import { canonicalKey, showKey } from '../routing/shard-key.js';
import { ReadOnlyContextError } from '../errors/read-only-context.error.js';
import { ShardUnavailableError } from '../errors/shard-unavailable.error.js';
import { executeOnNode, instrumentNode } from '../replication/node-instrumentation.js';
import type { ShardKeysOption } from '../routing/entity-shard-key.js';
import type { ReplicaBalancer } from '../routing/replica-balancer.js';
import type { ShardKeyValue } from '../routing/shard-key.js';
import { resolveShard, type ShardStrategy } from '../routing/shard-strategy.js';
import { parseLsn } from '../topology/lsn.js';
import type { NodeRegistry } from '../topology/node-registry.js';
import type { ShardNode } from '../topology/shard-node.js';
import { decodeConsistencyTokens } from './consistency-token.js';
import { currentFrame, outsideContext } from './context-store.js';
import { rerouteRead } from './read-node.js';
import { RequestScope, type CallFrame } from './request-scope.js';
import type { TransactionSettings } from '../transactions/transaction-options.js';
import { ReferenceWriteError } from '../errors/reference-write.error.js';

/** Settings the runtime routes with (from the module options, defaults applied). */
export interface RuntimeSettings {
  strategy: ShardStrategy;
  balancer: ReplicaBalancer;
  /** Lock each context to the first shard it touches (the `lockShard` option). */
  lockShard: boolean;
  maxLagMs: number | undefined;
  readYourWrites: boolean;
  /** Share of replica-eligible reads sent to the acting primary (0–1), and per-shard overrides. */
  primaryShare: number;
  shardPrimaryShare: Readonly<Record<string, number>>;
  /** Entity name → where its shard key is: the placement guard's map. */
  shardKeys: ShardKeysOption;
  /** Record the position of every read too (monotonic reads with the token). */
  monotonicReads: boolean;
  whenNoReplica: 'primary' | 'fail';
  consistencyHeader: string;
  /** Bound of a live replay-position check of a replica (the health monitor's check timeout). */
  checkTimeoutMs: number;
  /** Cross-shard transactions: default timeout, recovery schedule and grace period. */
  transactions: TransactionSettings;
  /** Names of the entities copied on every shard (`referenceEntities`): changed only through `ReferenceTables.write()`. */
  referenceEntities: ReadonlySet<string>;
}

const INSERT_LSN = 'select pg_current_wal_insert_lsn()::text as lsn';
const REPLAY_LSN = 'select pg_last_wal_replay_lsn()::text as lsn';

const hasChanges = ({ uow }: FlushEventArgs) =>
  uow.getChangeSets().length > 0 || uow.getCollectionUpdates().length > 0 || uow.getExtraUpdates().size > 0;

/**
 * What routed calls need from one configured module: its nodes, strategy and balancer. A routed
 * method finds it through its instance, bound to its module when the application starts (or through the
 * enclosing routing context), never through a DI lookup at class-definition time.
 */
export class ShardingRuntime {
  constructor(
    readonly registry: NodeRegistry,
    readonly settings: RuntimeSettings,
  ) {
    for (const node of registry.nodes) {
      this.watchFlushes(node);
      if (Object.keys(settings.shardKeys).length) this.guardPlacement(node);
      if (settings.referenceEntities.size) this.guardReferenceTables(node);
      if (settings.readYourWrites) this.watchCommits(node);
      instrumentNode(node, {
        rerouteRead: (failed) => rerouteRead(this, currentFrame()?.scope, failed),
        afterStatement: settings.readYourWrites ? (on) => this.afterStatement(on) : undefined,
        probeTimeoutMs: settings.checkTimeoutMs,
      });
    }
  }

  /** The share of a shard's replica-eligible reads its acting primary takes. */
  primaryShareOf(shard: string): number {
    return this.settings.shardPrimaryShare[shard] ?? this.settings.primaryShare;
  }

  get shardNames(): readonly string[] {
    return this.registry.shardNames;
  }

  /**
   * A new context's state; with a consistency token (request header or `run`/`withContext` option) its
   * reads must see the token's WAL positions. `InvalidConsistencyTokenError` for a token not of ours.
   */
  newScope(
    lockShard = this.settings.lockShard,
    consistencyToken?: string,
    tokenSource?: string,
    fromHeader = false,
  ): RequestScope {
    const scope = new RequestScope(this, lockShard);
    if (!consistencyToken) return scope;
    // a header's token is a client's: decoded when a read needs it (a health check never does);
    // an option of run()/withContext() is the application's own: checked at once
    if (fromHeader) scope.adoptTokenLater(consistencyToken, tokenSource ?? 'request header');
    else scope.adoptToken(decodeConsistencyTokens(consistencyToken, this.registry.shardNames, tokenSource));
    return scope;
  }

  /** The shard the strategy gives a key (checked to be a configured shard). */
  shardFor(key: ShardKeyValue): string | Promise<string> {
    const { strategy } = this.settings;
    // a directory lookup must not join the caller's context (fork, lock, read-only); AsyncLocalStorage.exit
    // is not free on Node 22, so only strategies that ask for it pay for it (and no closure otherwise)
    return strategy.isolated
      ? outsideContext(() => resolveShard(strategy, key, this.registry.shardNames))
      : resolveShard(strategy, key, this.registry.shardNames);
  }

  /** The shard's acting primary; `ShardUnavailableError` at once while its circuit is open (writes fail fast). */
  primaryFor(shard: string, caller: string): ShardNode {
    const { primary } = this.registry.acting(shard);
    if (!primary.health.isDown) return primary;
    throw new ShardUnavailableError(
      `${caller} needs the primary of shard "${shard}", but ${primary.id} (${primary.address}) is down ` +
        `(${primary.health.error ?? 'unreachable'}); nothing was sent. Writes resume once it answers again ` +
        '(the health monitor re-checks it) or a replica is promoted; reads marked @ReadReplica() keep working.',
      shard,
      primary.id,
    );
  }

  /**
   * What a frame's `this.em` acts on: the transaction's EntityManager inside a transaction, else the
   * scope's fork on the frame's node; undefined on a root frame (no node chosen yet).
   */
  emFor(frame: CallFrame): EntityManager | undefined {
    if (frame.transactionEm) {
      if (frame.transaction?.ended) throw frame.transaction.endedError(frame.caller);
      return frame.transactionEm;
    }
    return frame.node ? this.forkFor(frame.scope, frame.node) : undefined;
  }

  /** The scope's fork on a node: made at the first use, then joined by every call on that node. */
  forkFor(scope: RequestScope, node: ShardNode): EntityManager {
    let em = scope.fork(node.id);
    if (!em) {
      em = node.fork();
      // Reads from a replica never auto-flush: a dirty entity must not become an UPDATE on a standby.
      if (node.role === 'replica') em.setFlushMode(FlushMode.COMMIT);
      scope.keepFork(node.id, em);
    }
    return em;
  }

  /**
   * After an autocommit statement: on a primary, record the WAL position if this context wrote there;
   * with `monotonicReads`, after any statement, the position of the node it read from.
   */
  private afterStatement(node: ShardNode): Promise<void> | undefined {
    // replica reads are most statements: no context lookup unless their position is recorded
    if (node.health.role !== 'primary' && !this.settings.monotonicReads) return undefined;
    const scope = currentFrame()?.scope;
    if (!scope) return undefined;
    if (node.health.role === 'primary') {
      return scope.hasUnrecordedWrite(node.shard) || this.settings.monotonicReads
        ? this.recordPosition(scope, node)
        : undefined;
    }
    return this.settings.monotonicReads ? this.recordPosition(scope, node) : undefined;
  }

  /**
   * After a cross-shard transaction's part committed on `node` outside MikroORM's commit (COMMIT PREPARED):
   * records its WAL position so the context's later reads of the shard see the write.
   */
  recordCommit(scope: RequestScope, node: ShardNode): Promise<void> {
    return this.recordPosition(scope, node);
  }

  /** After a transaction commit (not a savepoint release) on a primary: the same. */
  private watchCommits(node: ShardNode): void {
    node.orm.em.getEventManager().registerSubscriber({
      afterTransactionCommit: async ({ transaction }: TransactionEventArgs) => {
        if ((transaction as { savepointName?: string } | undefined)?.savepointName) return;
        const scope = currentFrame()?.scope;
        if (
          node.health.role === 'primary' &&
          scope &&
          (scope.hasUnrecordedWrite(node.shard) || this.settings.monotonicReads)
        )
          await this.recordPosition(scope, node);
      },
    });
  }

  /**
   * Reads where `node` is and records it for the shard. On a primary: its WAL insert position — past every
   * commit made there so far (with synchronous_commit off a commit may not be flushed yet, so not the
   * flush position) — covering the context's writes so far. On a replica (monotonic reads): its replay
   * position after a read there, at least what that read saw (replay only moves forward); it covers no
   * new write. On failure nothing is recorded: after a write the shard's reads in this context stay on the
   * primary; after a read its answer stands, the position is simply not raised.
   */
  private async recordPosition(scope: RequestScope, node: ShardNode): Promise<void> {
    const onPrimary = node.health.role === 'primary';
    const covers = onPrimary ? scope.writesTo(node.shard) : scope.recordedCover(node.shard);
    try {
      const [row] = await executeOnNode<{ lsn: string | null }[]>(node, onPrimary ? INSERT_LSN : REPLAY_LSN);
      const lsn = parseLsn(row?.lsn);
      if (lsn === undefined) return;
      scope.recordPosition(node.shard, lsn, covers);
      node.health.advanceLsn(lsn);
    } catch {
      // the node went away after the statement: see above
    }
  }

  /**
   * A flush with changes on a replica node, or inside a read-only call, is refused before any SQL is
   * sent (the SQL-level guard would stop it too, but only after the flush opened its transaction).
   */
  private watchFlushes(node: ShardNode): void {
    node.orm.em.getEventManager().registerSubscriber({
      onFlush: (args: FlushEventArgs) => {
        const frame = currentFrame();
        const onReplica = node.health.role === 'replica';
        if (!hasChanges(args) || (!onReplica && !frame?.readOnly)) return;
        throw new ReadOnlyContextError(
          `${frame?.caller ?? 'A flush'} tried to write on ${onReplica ? 'read replica ' : ''}${node.id} (${node.address})` +
            `${frame?.readOnly ? ' inside a read-only call' : ''}; nothing was sent. ` +
            'Writes go to the primary: remove @ReadReplica() from the method that writes, or call a @ShardBy/@UsePrimary method for the write.',
        );
      },
    });
  }

  /**
   * Reference entities (copied on every shard) change only inside `ReferenceTables.write()`, which applies
   * the change to every shard atomically: any other flush that inserts, updates or deletes one is refused
   * before any SQL.
   */
  private guardReferenceTables(node: ShardNode): void {
    node.orm.em.getEventManager().registerSubscriber({
      onFlush: ({ uow }: FlushEventArgs) => {
        const frame = currentFrame();
        if (frame?.transaction?.referenceWrite) return;
        for (const change of uow.getChangeSets()) {
          const name = change.meta.className;
          if (!this.settings.referenceEntities.has(name)) continue;
          throw new ReferenceWriteError(
            `${frame?.caller ?? 'A flush'} would change reference entity ${name} on shard "${node.shard}" only; nothing was sent. ` +
              'Reference tables are copied on every shard: change them with referenceTables.write(em => ...), which ' +
              'applies the change to every shard atomically.',
            name,
          );
        }
      },
    });
  }

  /**
   * The placement guard: a flush that inserts an entity named in `shardKeys`, or changes its key, on a
   * shard its key does not map to is refused before any SQL (the classic sharding bug: a row written to
   * the method's shard instead of its own).
   */
  private guardPlacement(node: ShardNode): void {
    node.orm.em.getEventManager().registerSubscriber({
      onFlush: async ({ uow }: FlushEventArgs) => {
        for (const change of uow.getChangeSets()) {
          const name = change.meta.className;
          const where = this.settings.shardKeys[name];
          if (where === undefined) continue;
          const moved =
            change.type === ChangeSetType.UPDATE && (typeof where === 'function' || where in change.payload);
          if (change.type !== ChangeSetType.CREATE && !moved) continue;
          const key = entityShardKey(this.settings.shardKeys, name, change.entity);
          if (canonicalKey(key) === undefined) continue; // no key yet (e.g. generated by the database)
          const shard = await this.shardFor(key as ShardKeyValue);
          if (shard === node.shard) continue;
          throw new MisplacedEntityError(
            `${currentFrame()?.caller ?? 'A flush'} would write ${name} with key ${showKey(key)} to shard "${node.shard}", ` +
              `but that key belongs to shard "${shard}"; nothing was sent. Create or move it in a call routed by its own key ` +
              `(@ShardBy on it, or run({ key })).`,
            name,
            shard,
            node.shard,
          );
        }
      },
    });
  }
}
