import { ShardUnavailableError } from '../errors/shard-unavailable.error.js';
import { executeOnNode } from '../replication/node-instrumentation.js';
import { parseLsn } from '../topology/lsn.js';
import type { ShardNodes } from '../topology/node-registry.js';
import type { ShardNode } from '../topology/shard-node.js';
import { noAnswerWithin, withTimeout } from '../topology/with-timeout.js';
import type { RequestScope } from './request-scope.js';
import type { ShardingRuntime } from './sharding-runtime.js';

/**
 * May `replica` serve a read now? Up (circuit closed), still a replica (in recovery, not promoted),
 * within `maxLagMs`, and — when the context must see a WAL position — replayed at least that far
 * (as last seen by the monitor or a live check).
 */
export function isEligible(replica: ShardNode, maxLagMs: number | undefined, required: bigint | undefined): boolean {
  const health = replica.health;
  if (health.status === 'down' || health.role !== 'replica' || health.inRecovery === false) return false;
  if (maxLagMs !== undefined && health.lagMs !== undefined && health.lagMs > maxLagMs) return false;
  return required === undefined || (health.lsn !== undefined && health.lsn >= required);
}

/**
 * The node a read of `shard` goes to in this context:
 * 1. the primary after a write whose WAL position is unknown yet (or any write, without `readYourWrites`);
 * 2. the replica this context already reads the shard from, while it stays eligible (reads in one
 *    context never go back in time);
 * 3. an eligible replica by the balancer;
 * 4. when replicas are only behind a position from a consistency token by what the monitor last saw:
 *    the most advanced one is asked live (one round trip) and used if it has caught up (not for this
 *    context's own fresh commits: no replica has replayed those yet, the primary answers in one trip);
 * 5. else the primary (`whenNoReplica: 'primary'`) or `ShardUnavailableError`.
 */
export function chooseReadNode(
  runtime: ShardingRuntime,
  scope: RequestScope,
  shard: string,
  { primary, replicas }: ShardNodes = runtime.registry.acting(shard),
  positionChecked = false,
): ShardNode | Promise<ShardNode> {
  if (!replicas.length) return usablePrimary(shard, primary, false);
  const { readYourWrites, maxLagMs } = runtime.settings;
  if (readYourWrites ? scope.hasUnrecordedWrite(shard) : scope.wasWritten(shard)) {
    return usablePrimary(shard, primary, false);
  }
  const required = readYourWrites ? scope.requiredPosition(shard) : undefined;
  if (
    !positionChecked &&
    required !== undefined &&
    beyondKnown(required, primary, replicas) &&
    scope.worthCheckingLive(shard)
  ) {
    // a token's position no node is known to have reached: forged, or written a moment ago
    return capToPrimary(runtime, scope, shard, primary, required);
  }
  const pinned = scope.replica(shard);
  if (pinned && isEligible(pinned, maxLagMs, required)) return pinned;
  // the primary's share of reads keeps its cache warm; chosen once per context, like a replica
  if (pinned === primary && !primary.health.isDown) return primary;
  const eligible = eligibleReplicas(replicas, maxLagMs, required);
  if (eligible.length) {
    const share = runtime.primaryShareOf(shard);
    if (share > 0 && !primary.health.isDown && Math.random() < share) return scope.keepReplica(shard, primary);
    return scope.keepReplica(shard, runtime.settings.balancer(eligible, shard));
  }
  if (required !== undefined && scope.worthCheckingLive(shard)) {
    const candidates = replicas.filter((replica) => isEligible(replica, maxLagMs, undefined));
    if (candidates.length) return checkLive(runtime, scope, shard, candidates, required);
  }
  return fallback(runtime, shard, primary, replicas);
}

/** The replicas that may serve the read: the list itself when all may (the usual case: no copy). */
function eligibleReplicas(
  replicas: readonly ShardNode[],
  maxLagMs: number | undefined,
  required: bigint | undefined,
): readonly ShardNode[] {
  for (let i = 0; i < replicas.length; i++) {
    if (!isEligible(replicas[i], maxLagMs, required)) {
      return replicas.filter((replica) => isEligible(replica, maxLagMs, required));
    }
  }
  return replicas;
}

/**
 * A replica (other than `failed`) for a read that cannot run on `failed`, or the primary; undefined when
 * none may serve it. Synchronous: it uses what the monitor last saw.
 */
export function rerouteRead(
  runtime: ShardingRuntime,
  scope: RequestScope | undefined,
  failed: ShardNode,
): ShardNode | undefined {
  const { primary, replicas } = runtime.registry.acting(failed.shard);
  if (failed === primary) return undefined; // never retried: it may be a write
  if (scope?.replica(failed.shard) === failed) scope.forgetReplica(failed.shard);
  const required = runtime.settings.readYourWrites ? scope?.requiredPosition(failed.shard) : undefined;
  const others = replicas.filter((r) => r !== failed && isEligible(r, runtime.settings.maxLagMs, required));
  if (others.length) return runtime.settings.balancer(others, failed.shard);
  if (runtime.settings.whenNoReplica === 'fail' || primary.health.isDown) return undefined;
  primary.health.counters.fallbacks++;
  return primary;
}

/** No node of the shard is known to have reached `required` (a position a replica replayed is real). */
function beyondKnown(required: bigint, primary: ShardNode, replicas: readonly ShardNode[]): boolean {
  if (primary.health.isDown || primary.health.lsn! >= required) return false;
  return !replicas.some((replica) => replica.health.lsn! >= required);
}

/**
 * Asks the primary, on its control connection, where it is (one round trip) and lowers the token's
 * position to that: a client cannot pin a shard's reads on its primary with a position nobody wrote.
 * Then chooses as usual (if the primary does not say, with the position as it came).
 */
async function capToPrimary(
  runtime: ShardingRuntime,
  scope: RequestScope,
  shard: string,
  primary: ShardNode,
  required: bigint,
): Promise<ShardNode> {
  try {
    const [row] = await primary.control.query<{ lsn: string | null }>(
      'select pg_current_wal_insert_lsn()::text as lsn',
      runtime.settings.checkTimeoutMs,
    );
    const lsn = parseLsn(row?.lsn);
    if (lsn !== undefined) {
      primary.health.advanceLsn(lsn);
      if (required > lsn) scope.capPosition(shard, lsn);
    }
  } catch {
    // the primary did not say: the position stands; replicas that reach it still serve
  }
  return chooseReadNode(runtime, scope, shard, undefined, true);
}

async function checkLive(
  runtime: ShardingRuntime,
  scope: RequestScope,
  shard: string,
  candidates: ShardNode[],
  required: bigint,
): Promise<ShardNode> {
  const best = candidates.reduce((a, b) => ((b.health.lsn ?? -1n) > (a.health.lsn ?? -1n) ? b : a));
  try {
    const ms = runtime.settings.checkTimeoutMs;
    const query = executeOnNode<{ lsn: string | null }[]>(best, 'select pg_last_wal_replay_lsn()::text as lsn');
    const [row] = await withTimeout(query, ms, noAnswerWithin(ms));
    const lsn = parseLsn(row?.lsn);
    if (lsn !== undefined) best.health.advanceLsn(lsn);
    if (lsn !== undefined && lsn >= required) return scope.keepReplica(shard, best);
  } catch {
    // slow or gone: the monitor will tell which; this read goes elsewhere
  }
  const { primary, replicas } = runtime.registry.acting(shard);
  return fallback(runtime, shard, primary, replicas);
}

function fallback(
  runtime: ShardingRuntime,
  shard: string,
  primary: ShardNode,
  replicas: readonly ShardNode[],
): ShardNode {
  if (runtime.settings.whenNoReplica === 'fail') {
    throw new ShardUnavailableError(
      `No replica of shard "${shard}" may serve this read (${describeReplicas(replicas)}) and whenNoReplica is 'fail'. ` +
        "Start or repair a replica, raise readReplicas.maxLagMs, or set whenNoReplica: 'primary'.",
      shard,
    );
  }
  return usablePrimary(shard, primary, true, replicas);
}

function usablePrimary(
  shard: string,
  primary: ShardNode,
  isFallback: boolean,
  replicas: readonly ShardNode[] = [],
): ShardNode {
  if (primary.health.isDown) {
    throw new ShardUnavailableError(
      `Shard "${shard}" cannot serve this read: its primary ${primary.id} (${primary.address}) is down` +
        (replicas.length ? ` and no replica may serve it (${describeReplicas(replicas)})` : '') +
        '. It answers again once the primary is back (the health monitor re-checks it) or a replica is promoted.',
      shard,
      primary.id,
    );
  }
  if (isFallback) primary.health.counters.fallbacks++;
  return primary;
}

function describeReplicas(replicas: readonly ShardNode[]): string {
  if (!replicas.length) return 'it has none';
  return replicas
    .map(({ id, health }) => {
      if (health.status === 'down') return `${id} down`;
      if (health.inRecovery === false) return `${id} not in recovery`;
      return `${id} lag ${health.lagMs ?? '?'} ms`;
    })
    .join(', ');
}
