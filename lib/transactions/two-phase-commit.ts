import type { RequestScope } from '../context/request-scope.js';
import type { ShardingRuntime } from '../context/sharding-runtime.js';
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error.js';
import { CrossShardTransactionError } from '../errors/cross-shard-transaction.error.js';
import { failureReason } from '../topology/connection-failure.js';
import { executeOnNode } from '../replication/node-instrumentation.js';
import type { Participant } from './cross-shard-transaction.js';
import { DECISION_SQL, encodeParticipants, ensureDecisionTable } from './decision-table.js';
import { reachFaultPoint } from './fault-points.js';
import { endPrepared, PREPARED_BUSY } from './prepared-part.js';
import { formatGid, gidLiteral } from './global-transaction-id.js';

/**
 * Ends the transaction's parts atomically. One part: an ordinary COMMIT (no PREPARE). Several:
 * 1. every part flushes inside its transaction (a failure rolls all back: the statement's own error);
 * 2. the first part in shard order is the coordinator: it reads its transaction id, every other part is
 *    prepared (`PREPARE TRANSACTION 'nms:<coordinator>:<xid>:<shard>'`);
 * 3. the coordinator inserts the decision row in its own transaction and commits: the commit point.
 *    The decision is durable exactly when that COMMIT is;
 * 4. `COMMIT PREPARED` on every other part; the decision row is removed once all are committed.
 * A crash anywhere leaves prepared parts that recovery resolves from the decision row (commit) or the
 * coordinator's transaction having ended without one (roll back).
 */
export async function commitParts(runtime: ShardingRuntime, scope: RequestScope, parts: Participant[]): Promise<void> {
  if (parts.length === 0) return;
  if (parts.length === 1) {
    try {
      await parts[0].em.commit();
    } catch (error) {
      // a failed flush or COMMIT leaves MikroORM's transaction (and its pooled connection) open
      await rollbackParts(parts);
      throw error;
    }
    return;
  }
  const flushed = await Promise.allSettled(parts.map((part) => part.em.flush()));
  const flushError = flushed.find((result) => result.status === 'rejected');
  if (flushError) {
    await rollbackParts(parts);
    throw flushError.reason;
  }
  const [coordinator, ...others] = parts;
  const shards = parts.map((part) => part.shard);
  const timeoutMs = runtime.settings.checkTimeoutMs;
  let xid: string;
  try {
    await ensureDecisionTable(coordinator.node, timeoutMs);
    const [row] = await coordinator.em.execute<{ xid: string }[]>(DECISION_SQL.currentXid);
    xid = row.xid;
  } catch (error) {
    await rollbackParts(parts);
    throw aborted(
      shards,
      [],
      undefined,
      `the deciding shard "${coordinator.shard}" failed before anything was prepared`,
      error,
    );
  }

  // phase 1: prepare every other part
  let gids: Map<Participant, string>;
  try {
    gids = new Map(
      others.map((part) => [part, formatGid({ coordinator: coordinator.shard, xid, participant: part.shard })]),
    );
  } catch (error) {
    await rollbackParts(parts); // shard names too long for an id: nothing was prepared
    throw new CrossShardTransactionError(
      `The cross-shard transaction over ${shards.map((shard) => `"${shard}"`).join(', ')} was rolled back on every ` +
        'shard: a prepared transaction id holds two shard names and may not exceed 199 bytes. Nothing was committed; ' +
        'use shorter shard names (a retry fails the same way).',
      'aborted',
      shards,
      [],
      xid,
      { cause: error },
    );
  }
  const preparing = await Promise.allSettled(
    others.map(async (part) => {
      await part.em.execute(`prepare transaction ${gidLiteral(gids.get(part)!)}`);
      await confirmPrepared(part, gids.get(part)!);
      await releaseConnection(part);
      await reachFaultPoint('after-prepare', part.shard);
    }),
  );
  const prepareFailure = preparing.findIndex((result) => result.status === 'rejected');
  if (prepareFailure >= 0) {
    const prepared = others.filter((_, i) => preparing[i].status === 'fulfilled');
    const unprepared = others.filter((_, i) => preparing[i].status === 'rejected');
    await rollbackParts([coordinator, ...unprepared]);
    const pending = await rollbackPrepared(prepared, gids);
    const error = (preparing[prepareFailure] as PromiseRejectedResult).reason;
    throw aborted(shards, pending, xid, `shard "${others[prepareFailure].shard}" could not prepare its part`, error);
  }
  await reachFaultPoint('before-decision', coordinator.shard);

  // the commit point: the decision row commits with the coordinator's own part
  const decided = await decide(runtime, coordinator, shards, xid);
  if (decided !== true) {
    if (decided.outcome === 'unknown') {
      throw new CrossShardTransactionError(
        `${decided.why}: it is not known whether the transaction committed. Every shard will end it the same way ` +
          '(recovery decides from the deciding shard once it answers); read back before retrying.',
        'unknown',
        shards,
        others.map((part) => part.shard),
        xid,
        { cause: decided.error },
      );
    }
    const pending = await rollbackPrepared(others, gids);
    throw aborted(shards, pending, xid, decided.why, decided.error);
  }
  await reachFaultPoint('after-decision', coordinator.shard);

  // phase 2: commit every prepared part
  const committing = await Promise.allSettled(
    others.map(async (part) => {
      await endPart(part, 'commit', gids.get(part)!);
      await reachFaultPoint('after-commit-prepared', part.shard);
    }),
  );
  // the coordinator's commit recorded its position (MikroORM's commit event); the prepared parts' did not
  await Promise.all(
    others
      .filter((part, i) => committing[i].status === 'fulfilled' && scope.wasWritten(part.shard))
      .map((part) => runtime.recordCommit(scope, part.node)),
  );
  const pending = others.filter((_, i) => committing[i].status === 'rejected');
  if (pending.length === 0) {
    // the decision is no longer needed; a leftover is removed by recovery
    void executeOnNode(coordinator.node, DECISION_SQL.remove, [xid]).catch(() => undefined);
    return;
  }
  const first = committing.find((result) => result.status === 'rejected') as PromiseRejectedResult;
  throw new CrossShardTransactionError(
    `The transaction is committed (its decision is durable on shard "${coordinator.shard}"), but ` +
      `${pending.map((part) => `"${part.shard}"`).join(', ')} could not be told yet (${failureReason(first.reason)}). ` +
      'Recovery commits them (transactions.recoveryIntervalMs, or ShardingService.recoverTransactions()); until then ' +
      'their rows keep the old values. Do not retry the transaction.',
    'committed',
    shards,
    pending.map((part) => part.shard),
    xid,
    { cause: first.reason },
  );
}

/** Rolls back every part's open transaction (errors ignored: a lost connection rolls back by itself). */
export async function rollbackParts(parts: readonly Participant[]): Promise<void> {
  await Promise.allSettled(parts.map((part) => part.em.rollback()));
}

type Decision = true | { outcome: 'aborted' | 'unknown'; why: string; error: unknown };

/** Inserts the decision and commits the coordinator's part; on a lost COMMIT, asks the shard what happened. */
async function decide(
  runtime: ShardingRuntime,
  coordinator: Participant,
  shards: string[],
  xid: string,
): Promise<Decision> {
  try {
    await coordinator.em.execute(DECISION_SQL.insert, [encodeParticipants(shards)]);
  } catch (error) {
    await rollbackParts([coordinator]);
    return { outcome: 'aborted', why: `the decision could not be written on shard "${coordinator.shard}"`, error };
  }
  await reachFaultPoint('decision-inserted', coordinator.shard);
  try {
    await coordinator.em.commit();
    return true;
  } catch (error) {
    if (!(error instanceof CommitOutcomeUnknownError)) {
      await rollbackParts([coordinator]);
      return { outcome: 'aborted', why: `shard "${coordinator.shard}" refused to commit the decision`, error };
    }
    // the COMMIT may have been applied: its fate is the decision
    const status = await transactionStatus(runtime, coordinator, xid);
    if (status === 'committed') return true;
    if (status === 'aborted')
      return { outcome: 'aborted', why: `shard "${coordinator.shard}" lost the decision`, error };
    return {
      outcome: 'unknown',
      why: `the connection to shard "${coordinator.shard}" was lost while it committed the decision`,
      error,
    };
  }
}

/** What became of the coordinator's transaction, asked on a fresh connection; undefined when not known. */
async function transactionStatus(
  runtime: ShardingRuntime,
  coordinator: Participant,
  xid: string,
): Promise<string | undefined> {
  try {
    const node = runtime.registry.acting(coordinator.shard).primary;
    const [row] = await node.control.query<{ status: string | null }>(
      DECISION_SQL.statusOnControl,
      runtime.settings.checkTimeoutMs,
      [xid],
    );
    return row?.status ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * PREPARE TRANSACTION in a transaction PostgreSQL aborted (a statement failed there and the application
 * caught the error) rolls it back and reports no error (command tag ROLLBACK): without this check the
 * decision would commit the other parts and the later COMMIT PREPARED would find nothing (42704).
 */
async function confirmPrepared(part: Participant, gid: string): Promise<void> {
  const [row] = await part.em.execute<{ prepared: boolean }[]>(DECISION_SQL.isPrepared, [gid]);
  if (!row?.prepared) {
    throw new Error(
      `shard "${part.shard}" rolled back its part instead of preparing it: a statement of the transaction failed ` +
        'there (its error was caught), so PostgreSQL aborted that transaction',
    );
  }
}

/** After PREPARE the session has no transaction: end the ORM's handle on it so the connection goes back to the pool. */
async function releaseConnection(part: Participant): Promise<void> {
  await part.em.rollback().catch(() => undefined);
}

/** COMMIT PREPARED / ROLLBACK PREPARED on the part's node; an id no longer prepared was already ended. */
async function endPart(part: Participant, how: 'commit' | 'rollback', gid: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await endPrepared(part.node, how, gid);
      return;
    } catch (error) {
      // recovery is ending it right now, the same way (the decision is one): see whether it finished
      if ((error as { code?: string }).code === PREPARED_BUSY && attempt < 3) {
        await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
        continue;
      }
      throw error;
    }
  }
}

/** Rolls back prepared parts; returns those that could not be reached (recovery rolls them back). */
async function rollbackPrepared(
  parts: readonly Participant[],
  gids: ReadonlyMap<Participant, string>,
): Promise<string[]> {
  const results = await Promise.allSettled(parts.map((part) => endPart(part, 'rollback', gids.get(part)!)));
  return parts.filter((_, i) => results[i].status === 'rejected').map((part) => part.shard);
}

function aborted(
  shards: string[],
  pending: string[],
  xid: string | undefined,
  why: string,
  cause: unknown,
): CrossShardTransactionError {
  const disabled = /prepared transactions are disabled/i.test(String((cause as Error | undefined)?.message));
  return new CrossShardTransactionError(
    `The cross-shard transaction was rolled back on every shard: ${why} (${failureReason(cause)}). ` +
      (disabled
        ? 'That server does not accept prepared transactions: set max_prepared_transactions above 0 (and at least as high on its replicas), then restart it.'
        : 'Nothing was committed; it is safe to retry.') +
      (pending.length ? ` Shards ${pending.join(', ')} still hold a prepared part that recovery rolls back.` : ''),
    'aborted',
    shards,
    pending,
    xid,
    { cause },
  );
}
