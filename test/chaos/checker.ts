/**
 * The fault run's checker (Elle's list-append model, without the cycle search): reads a history
 * (see `history.ts`) and reports every anomaly it proves. Pure: no database, no clock, no I/O.
 *
 * It deliberately reuses nothing from `lib/` (e.g. the library's own connection-failure codes): a
 * checker that shares the code under test would share its bugs.
 */
import {
  checkCrossCounts,
  checkDuplicateAppends,
  checkFailedAppendsInvisible,
  checkListOrder,
  checkLostAppends,
  checkMonotonicReads,
  checkPhantomValues,
  checkReadYourWrites,
} from './checker-lists.js';
import {
  type Anomaly,
  appendedKeys,
  asList,
  asListMap,
  formatList,
  type IndexedHistory,
  indexHistory,
  isAppend,
  isCompletion,
  type Operation,
  opIds,
  outcome,
  readsOneList,
} from './checker-model.js';
import {
  ALLOWED_ERROR_NAMES,
  type CompletionEvent,
  type HistoryEvent,
  type InvokeEvent,
  type OperationKind,
} from './history.js';

export type { Anomaly, AnomalyKind } from './checker-model.js';

/** Outcome counts of some operations. */
export interface OutcomeCounts {
  ok: number;
  fail: number;
  info: number;
}

/** What the checker found in one history. */
export interface CheckReport {
  operations: OutcomeCounts & {
    /** Operations invoked (an operation that never completed counts here only). */
    total: number;
    /** Per operation kind (`append`, `read`, ...). */
    byKind: Record<string, OutcomeCounts>;
  };
  /** Error name → how many completions carried it. */
  errors: Record<string, number>;
  /** Fault → how many times the nemesis injected it. */
  faults: Record<string, number>;
  anomalies: Anomaly[];
  /** The history's events (invoke, completions) of every op an anomaly names, for the report. */
  opEvents: Record<number, (InvokeEvent | CompletionEvent)[]>;
}

/** Checks a whole history (every event of one run, in order) against every rule. */
export function checkHistory(events: readonly HistoryEvent[]): CheckReport {
  const history = indexHistory(events);
  const anomalies = RULES.flatMap((rule) => rule(history));
  return {
    operations: countOperations(history.operations),
    errors: countErrors(history.operations),
    faults: countFaults(events),
    anomalies,
    opEvents: eventsOfOps(events, anomalies),
  };
}

/**
 * A human-readable summary: operations by outcome, errors, faults, then each anomaly with the
 * invoke / completion lines of its operations, then the command that replays the run.
 */
export function formatReport(report: CheckReport, replayCommand: string): string {
  return [
    ...formatOperations(report.operations),
    `Errors: ${formatCounts(report.errors)}`,
    `Faults: ${formatCounts(report.faults)}`,
    ...formatAnomalies(report),
    `Replay: ${replayCommand}`,
  ].join('\n');
}

/** Every rule, in report order. */
const RULES: readonly ((history: IndexedHistory) => Anomaly[])[] = [
  (history) => checkPairing(history.events),
  (history) => checkFinalEvent(history.events),
  checkWellFormed,
  checkLostAppends,
  checkDuplicateAppends,
  checkFailedAppendsInvisible,
  checkPhantomValues,
  checkCrossCounts,
  checkListOrder,
  checkReadYourWrites,
  checkMonotonicReads,
  checkErrors,
  checkHttpStatuses,
  checkSplitPairs,
  checkReplicas,
  checkPools,
  checkPreparedLeft,
];

// ---------------------------------------------------------------------------------------------------
// incomplete-history: the rules below can only trust a history that is whole and well formed
// ---------------------------------------------------------------------------------------------------

/**
 * Every invoke has exactly one later completion with the same op, session and kind, and a session
 * (one logical client) never has two operations open at once.
 */
function checkPairing(events: readonly HistoryEvent[]): Anomaly[] {
  const found: Anomaly[] = [];
  const report = (message: string, ...ops: number[]) => found.push({ kind: 'incomplete-history', message, ops });
  const invoked = new Map<number, InvokeEvent>();
  const completed = new Set<number>();
  const openBySession = new Map<number, number>();
  for (const event of events) {
    if (event.type === 'invoke') {
      if (invoked.has(event.op)) report(`op ${event.op} is invoked twice`, event.op);
      else invoked.set(event.op, event);
      const open = openBySession.get(event.session);
      if (open !== undefined)
        report(`session ${event.session} invoked op ${event.op} while op ${open} was open`, open, event.op);
      openBySession.set(event.session, event.op);
    } else if (isCompletion(event)) {
      const invoke = invoked.get(event.op);
      if (!invoke) report(`op ${event.op} completed (${event.type}) without an earlier invoke`, event.op);
      else if (completed.has(event.op)) report(`op ${event.op} completed twice`, event.op);
      else {
        completed.add(event.op);
        const mismatch = completionMismatch(invoke, event);
        if (mismatch) report(`op ${event.op}'s completion does not match its invoke: ${mismatch}`, event.op);
        if (openBySession.get(invoke.session) === event.op) openBySession.delete(invoke.session);
      }
    }
  }
  for (const op of invoked.keys()) if (!completed.has(op)) report(`op ${op} never completed`, op);
  return found;
}

/** What differs between an invoke and its completion (session, kind, and key / value when given). */
function completionMismatch(invoke: InvokeEvent, completion: CompletionEvent): string | undefined {
  const fields = ['session', 'f', 'key', 'value'] as const;
  const differing = fields.filter((field) => {
    const completed = completion[field];
    return (field === 'session' || field === 'f' || completed !== undefined) && completed !== invoke[field];
  });
  const described = differing.map((field) => `${field} ${String(invoke[field])} → ${String(completion[field])}`);
  if (completion.keys !== undefined && completion.keys.join(',') !== (invoke.keys ?? []).join(',')) {
    described.push(`keys ${String(invoke.keys)} → ${String(completion.keys)}`);
  }
  return described.length ? described.join(', ') : undefined;
}

/** Exactly one `final` event, and it is the last: the final-state rules need the settled state. */
function checkFinalEvent(events: readonly HistoryEvent[]): Anomaly[] {
  const finals = events.filter((event) => event.type === 'final').length;
  const report = (message: string): Anomaly[] => [{ kind: 'incomplete-history', message, ops: [] }];
  if (finals === 0) return report('the history has no final event: the run did not finish');
  if (finals > 1) return report(`the history has ${finals} final events, not one`);
  if (events.at(-1)?.type !== 'final') return report('events follow the final event: it must be the last');
  return [];
}

/** Keys, values and results have the shape each operation kind needs, and values are unique. */
function checkWellFormed(history: IndexedHistory): Anomaly[] {
  const malformed = history.operations.flatMap((op): Anomaly[] => {
    const problems = operationShapeProblems(op);
    if (!problems.length) return [];
    return [
      { kind: 'incomplete-history', message: `op ${op.id} (${op.invoke.f}): ${problems.join('; ')}`, ops: [op.id] },
    ];
  });
  const reused = [...history.appendersOf].flatMap(([value, ops]): Anomaly[] => {
    if (ops.length < 2) return [];
    const ids = ops.map((op) => op.id);
    const message = `value ${value} is appended by ops ${ids.join(', ')}: values must be unique in the run`;
    return [{ kind: 'incomplete-history', message, ops: ids }];
  });
  return [...malformed, ...reused];
}

/** Why one operation's fields do not fit its kind. */
function operationShapeProblems(op: Operation): string[] {
  const { f, key, keys, value } = op.invoke;
  const problems: string[] = [];
  if (f === 'append-pair') {
    if (keys?.length !== 2 || keys[0] === keys[1]) problems.push('an append-pair needs two different keys');
  } else if (f !== 'cross-find' && f !== 'cross-count' && key === undefined) problems.push('no key');
  if (isAppend(op) && !Number.isInteger(value)) problems.push('no integer value to append');
  if (outcome(op) === 'ok' && !resultFits(f, op.completion?.result)) problems.push('ok with a malformed result');
  return problems;
}

/** True when an ok result has the shape its operation kind returns. */
function resultFits(f: OperationKind, result: unknown): boolean {
  if (readsOneList(f)) return asList(result) !== undefined;
  if (f === 'cross-find') return asListMap(result) !== undefined;
  if (f === 'cross-count') return typeof result === 'number';
  return true;
}

// ---------------------------------------------------------------------------------------------------
// unexpected-error, http-500: how operations fail
// ---------------------------------------------------------------------------------------------------

/** The only errors that may leave an outcome unknown (`info`). */
const UNKNOWN_OUTCOME_ERRORS: ReadonlySet<string> = new Set(['CommitOutcomeUnknownError', 'ShardUnavailableError']);

/** Socket codes of a connection that could not be made or broke. */
const CONNECTION_SOCKET_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** SQLSTATEs of a server ending or refusing connections (admin / crash shutdown, starting up). */
const CONNECTION_SQLSTATES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03']);

/**
 * unexpected-error: each failure's error is one the library promises; a connection that died must
 * surface as ShardUnavailableError / CommitOutcomeUnknownError, not as a statement exception; and only
 * those two (and a cross-shard transaction whose outcome is `unknown`) may leave the outcome unknown. A
 * `CrossShardTransactionError` agrees with its completion: `aborted` fails, `unknown` is info,
 * `committed` is a delayed ok (and only an append-pair may be delayed).
 */
function checkErrors(history: IndexedHistory): Anomaly[] {
  return history.operations.flatMap((op): Anomaly[] => {
    const completion = op.completion;
    if (!completion) return [];
    const problems = completion.type === 'ok' ? delayedProblems(op.invoke, completion) : errorProblems(completion);
    if (!problems.length) return [];
    const message = `op ${op.id} (${op.invoke.f}) ${completion.type}: ${problems.join('; ')}`;
    return [{ kind: 'unexpected-error', message, ops: [op.id], ...keyOf(op) }];
  });
}

/** What is wrong with a fail / info completion's error. */
function errorProblems(completion: CompletionEvent): string[] {
  const { error } = completion;
  if (!error) return ['no error recorded'];
  const problems: string[] = [];
  if (!ALLOWED_ERROR_NAMES.has(error.name)) problems.push(`${error.name} is not an allowed error (${error.message})`);
  if (error.name.endsWith('Exception') && isConnectionFailureCode(error.code)) {
    problems.push(
      `${error.name} with code ${error.code}: a lost connection leaked as a statement error instead of ShardUnavailableError / CommitOutcomeUnknownError`,
    );
  }
  const unknownPair = error.name === 'CrossShardTransactionError' && error.outcome === 'unknown';
  if (completion.type === 'info' && !UNKNOWN_OUTCOME_ERRORS.has(error.name) && !unknownPair) {
    problems.push(
      `an unknown outcome (info) must be CommitOutcomeUnknownError, ShardUnavailableError or CrossShardTransactionError with outcome unknown, not ${error.name}${error.outcome ? ` (outcome ${error.outcome})` : ''}`,
    );
  }
  if (completion.type === 'fail' && error.name === 'CrossShardTransactionError' && error.outcome !== 'aborted') {
    problems.push(`a failed (not applied) cross-shard transaction must say outcome aborted, not ${error.outcome}`);
  }
  return problems;
}

/** What is wrong with an ok completion's `delayed` mark (a pair committed with a shard left to recovery). */
function delayedProblems(invoke: InvokeEvent, completion: CompletionEvent): string[] {
  if (!completion.delayed) return [];
  if (invoke.f !== 'append-pair') return [`only an append-pair can be delayed, not ${invoke.f}`];
  const { error } = completion;
  if (error?.name !== 'CrossShardTransactionError' || error.outcome !== 'committed') {
    return [
      `a delayed ok must carry CrossShardTransactionError with outcome committed, not ${error?.name ?? 'no error'}`,
    ];
  }
  return [];
}

/** True for codes saying the node or connection failed: SQLSTATE class 08 (but 08P01, a bad message), 57P01-3, sockets. */
function isConnectionFailureCode(code: string | undefined): boolean {
  if (code === undefined) return false;
  const class08 = /^08[0-9A-Z]{3}$/.test(code) && code !== '08P01';
  return class08 || CONNECTION_SQLSTATES.has(code) || CONNECTION_SOCKET_CODES.has(code);
}

/** http-500: a server error is a bug; unavailability is answered 503. */
function checkHttpStatuses(history: IndexedHistory): Anomaly[] {
  return history.operations.flatMap((op): Anomaly[] => {
    const error = op.completion?.error;
    if (error?.status === undefined || error.status < 500 || error.status === 503) return [];
    const message = `op ${op.id} (${op.invoke.f}) answered HTTP ${error.status}: ${error.name}: ${error.message}`;
    return [{ kind: 'http-500', message, ops: [op.id], ...keyOf(op) }];
  });
}

// ---------------------------------------------------------------------------------------------------
// replica-diverged, connection-leak: the settled state after healing
// ---------------------------------------------------------------------------------------------------

/** replica-diverged: once caught up, every following replica holds exactly the primary's lists. */
function checkReplicas(history: IndexedHistory): Anomaly[] {
  const { final } = history;
  if (!final) return [];
  const primary = withoutEmptyLists(final.lists);
  return Object.entries(final.replicaLists).flatMap(([replica, lists]) => {
    const copy = withoutEmptyLists(lists);
    // a replica holds its own shard's keys only: the runner lists each of them (`[]` for none)
    const keys = Object.keys(lists).sort();
    return keys.flatMap((key): Anomaly[] => {
      const [expected, actual] = [primary[key] ?? [], copy[key] ?? []];
      if (expected.length === actual.length && expected.every((v, i) => actual[i] === v)) return [];
      const message = `replica ${replica} holds key ${key} as ${formatList(actual)}, the primary as ${formatList(expected)}`;
      const differing = [...expected, ...actual].filter((v) => !expected.includes(v) || !actual.includes(v));
      const ops = opIds(...differing.flatMap((v) => (history.appendersOf.get(v) ?? []).map((op) => op.id)));
      return [{ kind: 'replica-diverged', key, message, ops }];
    });
  });
}

/**
 * split-pair: after the closing recovery, an append-pair's value is in both its keys' final lists or in
 * neither, whatever its outcome (an ok pair in neither is a lost-append, twice).
 */
function checkSplitPairs(history: IndexedHistory): Anomaly[] {
  const { final } = history;
  if (!final) return [];
  return history.operations.flatMap((op): Anomaly[] => {
    const { value } = op.invoke;
    if (op.invoke.f !== 'append-pair' || value === undefined) return [];
    const keys = appendedKeys(op);
    const holding = keys.filter((key) => (final.lists[key] ?? []).includes(value));
    if (!holding.length || holding.length === keys.length) return [];
    const missing = keys.filter((key) => !holding.includes(key));
    const completed = op.completion ? `${op.completion.type}${op.completion.delayed ? ', delayed' : ''}` : 'open';
    const error = op.completion?.error;
    const why = error ? `, ${error.name}${error.outcome ? ` outcome ${error.outcome}` : ''}` : '';
    const message =
      `value ${value} of op ${op.id} (append-pair, ${completed}${why}) is in key ${holding.join(', ')}'s final list ` +
      `but not in key ${missing.join(', ')}'s: the cross-shard transaction took effect on one shard only`;
    return [{ kind: 'split-pair', key: missing[0], message, ops: [op.id] }];
  });
}

/** prepared-left: the closing recovery leaves no prepared transaction of ours on any acting primary. */
function checkPreparedLeft(history: IndexedHistory): Anomaly[] {
  return Object.entries(history.final?.prepared ?? {}).flatMap(([node, gids]): Anomaly[] => {
    if (!gids.length) return [];
    const shown = gids.slice(0, 5).join(', ') + (gids.length > 5 ? `, … ${gids.length - 5} more` : '');
    const message = `node ${node} still holds ${gids.length} prepared transaction(s) of ours after the closing recovery: ${shown}`;
    return [{ kind: 'prepared-left', message, ops: [] }];
  });
}

/** connection-leak: after the run settled no pool has a connection checked out or a caller waiting. */
function checkPools(history: IndexedHistory): Anomaly[] {
  return Object.entries(history.final?.pools ?? {}).flatMap(([node, pool]): Anomaly[] => {
    const problems: string[] = [];
    if (pool.idle !== pool.total) problems.push(`${pool.total - pool.idle} of ${pool.total} connections checked out`);
    if (pool.waiting !== 0) problems.push(`${pool.waiting} callers waiting`);
    if (!problems.length) return [];
    return [
      { kind: 'connection-leak', message: `node ${node}: ${problems.join(', ')} after the run settled`, ops: [] },
    ];
  });
}

/** Lists without the empty ones: a missing key and an empty list are the same. */
function withoutEmptyLists(lists: Record<string, number[]>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(lists).filter(([, list]) => list.length > 0));
}

/** `{ key }` when the operation has one, to spread into an anomaly. */
function keyOf(op: Operation): { key?: string } {
  return op.invoke.key === undefined ? {} : { key: op.invoke.key };
}

// ---------------------------------------------------------------------------------------------------
// the report
// ---------------------------------------------------------------------------------------------------

/** Operations by outcome, in total and per kind. */
function countOperations(operations: readonly Operation[]): CheckReport['operations'] {
  const counts: CheckReport['operations'] = { total: operations.length, ok: 0, fail: 0, info: 0, byKind: {} };
  for (const op of operations) {
    const kind = (counts.byKind[op.invoke.f] ??= { ok: 0, fail: 0, info: 0 });
    const type = outcome(op);
    if (type === undefined) continue;
    counts[type]++;
    kind[type]++;
  }
  return counts;
}

/** Error name → completions that carried it. */
function countErrors(operations: readonly Operation[]): Record<string, number> {
  return countBy(operations.flatMap((op) => (op.completion?.error ? [op.completion.error.name] : [])));
}

/** Fault → times injected. */
function countFaults(events: readonly HistoryEvent[]): Record<string, number> {
  return countBy(events.flatMap((event) => (event.type === 'fault' ? [event.fault] : [])));
}

/** Name → occurrences. */
function countBy(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

/** The invoke and completion events of every op the anomalies name, in history order. */
function eventsOfOps(events: readonly HistoryEvent[], anomalies: readonly Anomaly[]): CheckReport['opEvents'] {
  const wanted = new Set(anomalies.flatMap((anomaly) => anomaly.ops));
  const byOp: CheckReport['opEvents'] = {};
  for (const event of events) {
    if ((event.type === 'invoke' || isCompletion(event)) && wanted.has(event.op)) (byOp[event.op] ??= []).push(event);
  }
  return byOp;
}

/** `Operations: ...` and one line per kind. */
function formatOperations(operations: CheckReport['operations']): string[] {
  const outcomes = (c: OutcomeCounts) => `${c.ok} ok, ${c.fail} fail, ${c.info} info`;
  const open = operations.total - operations.ok - operations.fail - operations.info;
  const header = `Operations: ${operations.total} (${outcomes(operations)}${open ? `, ${open} never completed` : ''})`;
  const kinds = Object.entries(operations.byKind).map(([kind, counts]) => `  ${kind.padEnd(12)} ${outcomes(counts)}`);
  return [header, ...kinds];
}

/** `a 2, b 1`, or `none`. */
function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort(([, a], [, b]) => b - a);
  return entries.length ? entries.map(([name, count]) => `${name} ${count}`).join(', ') : 'none';
}

/** `Anomalies: none`, or each anomaly with its operations' history lines (a few per anomaly). */
function formatAnomalies(report: CheckReport, maxOps = 6): string[] {
  if (!report.anomalies.length) return ['Anomalies: none'];
  return [
    `Anomalies: ${report.anomalies.length}`,
    ...report.anomalies.flatMap((anomaly, i) => {
      const shown = anomaly.ops.slice(0, maxOps);
      const lines = shown.flatMap((op) =>
        (report.opEvents[op] ?? []).map((event) => `      op ${op} ${event.type.padEnd(6)} ${JSON.stringify(event)}`),
      );
      const more = anomaly.ops.length > maxOps ? [`      … and ${anomaly.ops.length - maxOps} more ops`] : [];
      const ids = anomaly.ops.length > 20 ? `${anomaly.ops.slice(0, 20).join(', ')}, …` : anomaly.ops.join(', ');
      const ops = anomaly.ops.length ? ` [ops ${ids}]` : '';
      return [`  ${i + 1}. ${anomaly.kind}: ${anomaly.message}${ops}`, ...lines, ...more];
    }),
  ];
}
