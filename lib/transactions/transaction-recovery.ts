import type { ShardingRuntime } from '../context/sharding-runtime.js';
import { outsideContext } from '../context/context-store.js';
import { failureReason } from '../topology/connection-failure.js';
import { executeOnNode } from '../replication/node-instrumentation.js';
import type { ShardNode } from '../topology/shard-node.js';
import { DECISION_SQL, decodeParticipants } from './decision-table.js';
import { endPrepared } from './prepared-part.js';
import { GID_PREFIX, formatGid, parseGid, type GlobalTransactionId } from './global-transaction-id.js';

/** `pg_try_advisory_xact_lock` key of the recovery (on the first shard): one instance recovers at a time. */
const RECOVERY_LOCK_KEY = '1421510943977262013';

const PREPARED_SQL =
  'select gid, (extract(epoch from now() - prepared) * 1000)::float8 as age_ms from pg_prepared_xacts ' +
  `where database = current_database() and gid like '${GID_PREFIX}%'`;

/** A prepared part of a cross-shard transaction, as recovery found it. */
export interface PreparedPart {
  shard: string;
  gid: string;
  /** The deciding shard and its transaction id. */
  coordinator: string;
  transactionId: string;
}

/** What `ShardingService.recoverTransactions()` did. */
export interface RecoveryReport {
  /** False when another instance was recovering (its advisory lock was held) or the lock's shard was down. */
  ran: boolean;
  committed: PreparedPart[];
  rolledBack: PreparedPart[];
  /** Left alone: younger than the grace period, or their deciding transaction is still running. */
  waiting: PreparedPart[];
  /** Shards or parts that could not be resolved this time (retried on the next run). */
  failed: { shard: string; gid?: string; error: string }[];
  /** Decision rows removed because every participant is resolved. */
  decisionsRemoved: number;
  /** Prepared parts of ours left per shard after this run (shards that could be read). */
  unresolved: Record<string, number>;
}

/**
 * Resolves the prepared parts a crash (of the application, or of a connection during the commit protocol)
 * left behind, one instance at a time: a part older than `graceMs` is committed when its deciding shard holds
 * the decision row, rolled back when it does not and the deciding transaction is no longer in progress
 * (aborted, or unknown to the server), and left alone while it still runs. Decision rows whose participants
 * are all resolved are removed.
 */
export async function recoverTransactions(runtime: ShardingRuntime, graceMs: number): Promise<RecoveryReport> {
  const report: RecoveryReport = {
    ran: false,
    committed: [],
    rolledBack: [],
    waiting: [],
    failed: [],
    decisionsRemoved: 0,
    unresolved: {},
  };
  const lockShard = runtime.shardNames[0];
  try {
    await outsideContext(() =>
      runtime.registry
        .acting(lockShard)
        .primary.fork()
        .transactional(async (em) => {
          const [row] = await em.execute<{ locked: boolean }[]>(
            'select pg_try_advisory_xact_lock(?::bigint) as locked',
            [RECOVERY_LOCK_KEY],
          );
          if (!row?.locked) return;
          report.ran = true;
          await recoverUnderLock(runtime, graceMs, report);
        }),
    );
  } catch (error) {
    report.failed.push({ shard: lockShard, error: `recovery lock: ${failureReason(error)}` });
  }
  return report;
}

async function recoverUnderLock(runtime: ShardingRuntime, graceMs: number, report: RecoveryReport): Promise<void> {
  const primaries = new Map(runtime.shardNames.map((shard) => [shard, runtime.registry.acting(shard).primary]));
  // 1. what is prepared where
  const scanned = new Map<string, { gid: string; ageMs: number }[]>();
  await Promise.all(
    [...primaries].map(async ([shard, node]) => {
      try {
        scanned.set(
          shard,
          await executeOnNode<{ gid: string; age_ms: number }[]>(node, PREPARED_SQL).then((rows) =>
            rows.map((r) => ({ gid: r.gid, ageMs: Number(r.age_ms) })),
          ),
        );
      } catch (error) {
        report.failed.push({ shard, error: failureReason(error) });
      }
    }),
  );
  // 2. resolve each old enough part from its decision
  const decisions = new DecisionReader(primaries);
  for (const [shard, rows] of scanned) {
    const remaining: PreparedPart[] = [];
    for (const { gid, ageMs } of rows) {
      const id = parseGid(gid);
      if (!id || id.participant !== shard) continue; // not ours to resolve here
      const part: PreparedPart = { shard, gid, coordinator: id.coordinator, transactionId: id.xid };
      if (ageMs < graceMs) {
        report.waiting.push(part);
        remaining.push(part);
        continue;
      }
      try {
        const verdict = await decisions.verdict(id);
        if (verdict === 'wait') {
          report.waiting.push(part);
          remaining.push(part);
          continue;
        }
        // a part its own transaction ended meanwhile (its COMMIT PREPARED won the race) is not counted
        if (await endPrepared(primaries.get(shard)!, verdict, gid))
          (verdict === 'commit' ? report.committed : report.rolledBack).push(part);
      } catch (error) {
        report.failed.push({ shard, gid, error: failureReason(error) });
        remaining.push(part);
      }
    }
    report.unresolved[shard] = remaining.length;
    primaries.get(shard)!.health.preparedTransactions = remaining.length;
  }
  // 3. decisions no participant needs any more (read afresh: a part may have been prepared since step 1)
  for (const [shard, node] of primaries) {
    if (!scanned.has(shard)) continue;
    try {
      report.decisionsRemoved += await removeSettledDecisions(shard, node, graceMs, primaries);
    } catch (error) {
      report.failed.push({ shard, error: `decision cleanup: ${failureReason(error)}` });
    }
  }
}

/** Reads decisions from the deciding shards, once per transaction. */
class DecisionReader {
  private readonly verdicts = new Map<string, Promise<'commit' | 'rollback' | 'wait'>>();
  /** Whether each deciding node has the decision table: asked once per run, not once per transaction. */
  private readonly tables = new Map<ShardNode, Promise<boolean>>();

  constructor(private readonly primaries: ReadonlyMap<string, ShardNode>) {}

  verdict(id: GlobalTransactionId): Promise<'commit' | 'rollback' | 'wait'> {
    const key = `${id.coordinator}\u0000${id.xid}`;
    let verdict = this.verdicts.get(key);
    if (!verdict) {
      verdict = this.read(id);
      this.verdicts.set(key, verdict);
    }
    return verdict;
  }

  private async read({ coordinator, xid }: GlobalTransactionId): Promise<'commit' | 'rollback' | 'wait'> {
    const node = this.primaries.get(coordinator);
    if (!node) throw new Error(`its deciding shard "${coordinator}" is not configured; resolve it by hand`);
    const hasTable = await this.hasDecisionTable(node);
    let row: { ended: boolean; found: boolean } | undefined;
    try {
      [row] = await executeOnNode<{ ended: boolean; found: boolean }[]>(
        node,
        hasTable ? DECISION_SQL.verdict : DECISION_SQL.verdictNoTable,
        hasTable ? [xid, xid, xid] : [xid, xid],
      );
    } catch (error) {
      // an id beyond the server's counter: that transaction never ran on this timeline (lost in a failover)
      if ((error as { code?: string }).code === '22023') return 'rollback';
      throw error;
    }
    if (row?.found) return 'commit';
    if (!row?.ended) return 'wait';
    // aborted, too old to know, or committed without a decision row: our protocol writes the row in the
    // same transaction, so that id was reused after a failover and is not this transaction's
    return 'rollback';
  }

  private hasDecisionTable(node: ShardNode): Promise<boolean> {
    let known = this.tables.get(node);
    if (!known) {
      known = executeOnNode<{ exists: boolean }[]>(node, DECISION_SQL.tableExists).then(
        ([row]) => row?.exists === true,
      );
      // a failed read is not remembered: the next transaction of this node asks again
      known.catch(() => this.tables.delete(node));
      this.tables.set(node, known);
    }
    return known;
  }
}

async function removeSettledDecisions(
  shard: string,
  node: ShardNode,
  graceMs: number,
  primaries: ReadonlyMap<string, ShardNode>,
): Promise<number> {
  const [table] = await executeOnNode<{ exists: boolean }[]>(node, DECISION_SQL.tableExists);
  if (!table?.exists) return 0;
  const rows = await executeOnNode<{ xid: string; participants: string }[]>(node, DECISION_SQL.settledCandidates, [
    graceMs,
  ]);
  // the participants are read after the decisions: every part of a decision read here was prepared before
  // it, so it shows unless it has been resolved (the scan of step 1 may predate it)
  const preparedNow = new Map<string, Promise<Set<string> | undefined>>();
  const preparedOn = (participant: string) => {
    let gids = preparedNow.get(participant);
    if (!gids) {
      const participantNode = primaries.get(participant);
      gids = participantNode
        ? executeOnNode<{ gid: string }[]>(participantNode, PREPARED_SQL).then(
            (found) => new Set(found.map((r) => r.gid)),
            () => undefined,
          )
        : Promise.resolve(undefined);
      preparedNow.set(participant, gids);
    }
    return gids;
  };
  let removed = 0;
  for (const { xid, participants } of rows) {
    let needed = false;
    for (const participant of decodeParticipants(participants)) {
      if (participant === shard) continue;
      const gids = await preparedOn(participant); // not read: keep the decision
      if (!gids || gids.has(formatGid({ coordinator: shard, xid, participant }))) needed = true;
    }
    if (needed) continue;
    await executeOnNode(node, DECISION_SQL.remove, [xid]);
    removed++;
  }
  return removed;
}
