/**
 * The checker's view of a history: operations (an invoke paired with its completion) and every
 * version of a list the run observed. Pure data, no rules: the rules live in `checker.ts`.
 */
import type { CompletionEvent, FinalEvent, HistoryEvent, InvokeEvent, OperationKind } from './history.js';

/** What kind of rule an anomaly breaks. */
export type AnomalyKind =
  | 'lost-append'
  | 'duplicate-append'
  | 'failed-append-visible'
  | 'phantom-value'
  | 'read-your-writes'
  | 'monotonic-reads'
  | 'incompatible-order'
  | 'unexpected-error'
  | 'http-500'
  | 'replica-diverged'
  | 'connection-leak'
  | 'split-pair'
  | 'prepared-left'
  | 'incomplete-history';

/** One broken rule, with the operations that show it. */
export interface Anomaly {
  kind: AnomalyKind;
  message: string;
  /** Ids of the operations involved (empty when only the final state is). */
  ops: number[];
  key?: string;
}

/** One operation: its invoke and, when the history has one, its (first) completion. */
export interface Operation {
  id: number;
  invoke: InvokeEvent;
  /** Position of the invoke in the history. */
  invokedAt: number;
  completion?: CompletionEvent;
  /** Position of the completion in the history. */
  completedAt?: number;
}

/** One version of one key's list, as someone saw it. */
export interface Observation {
  key: string;
  list: readonly number[];
  /** The operation that read it; absent for the final state. */
  op?: number;
  /** Who saw it, for messages: `op 7 (read)`, `final lists`, `replica s0-replica-1`. */
  source: string;
}

/** A history indexed for the rules. */
export interface IndexedHistory {
  events: readonly HistoryEvent[];
  /** In invoke order. */
  operations: Operation[];
  byId: ReadonlyMap<number, Operation>;
  /** The last `final` event, if any. */
  final?: FinalEvent;
  /** Every list version: ok reads, append-reads and cross-finds in completion order, then the final state. */
  observations: Observation[];
  /** Appended value → the operations that invoked an append of it (one, in a well-formed run; a pair is one). */
  appendersOf: ReadonlyMap<number, Operation[]>;
}

/** True for `append`, `append-read` and `append-pair`: the operations that write a value. */
export function isAppend(op: Operation): boolean {
  return op.invoke.f === 'append' || op.invoke.f === 'append-read' || op.invoke.f === 'append-pair';
}

/**
 * The keys an append writes its value to: its `key`, or an append-pair's two `keys` (each of which sees
 * the pair as an append of its own). Empty for other operations.
 */
export function appendedKeys(op: Operation): readonly string[] {
  if (!isAppend(op)) return [];
  if (op.invoke.f === 'append-pair') return op.invoke.keys ?? [];
  return op.invoke.key === undefined ? [] : [op.invoke.key];
}

/**
 * True for an ok append-pair whose answer said a shard's part was still prepared (outcome `committed`):
 * applied, but that shard shows it only once recovery commits the part, so reads may miss it until then.
 */
export function isDelayed(op: Operation): boolean {
  return outcome(op) === 'ok' && op.completion?.delayed === true;
}

/** True for the operations whose `result` is one key's list. */
export function readsOneList(f: OperationKind): boolean {
  return f === 'read' || f === 'append-read';
}

/** The completion's type, or undefined while the operation never completed. */
export function outcome(op: Operation): CompletionEvent['type'] | undefined {
  return op.completion?.type;
}

/** True for completion events. */
export function isCompletion(event: HistoryEvent): event is CompletionEvent {
  return event.type === 'ok' || event.type === 'fail' || event.type === 'info';
}

/** The result as a list of numbers, or undefined when it is something else. */
export function asList(result: unknown): readonly number[] | undefined {
  return Array.isArray(result) && result.every((v) => typeof v === 'number') ? result : undefined;
}

/** The result as key → list, or undefined when it is something else. */
export function asListMap(result: unknown): Readonly<Record<string, readonly number[]>> | undefined {
  if (!result || typeof result !== 'object' || Array.isArray(result)) return undefined;
  const lists = result as Record<string, unknown>;
  return Object.values(lists).every((list) => asList(list)) ? (lists as Record<string, number[]>) : undefined;
}

/** True when `shorter` is a prefix of `longer` (a list-append list only grows at its end). */
export function isPrefix(shorter: readonly number[], longer: readonly number[]): boolean {
  return shorter.length <= longer.length && shorter.every((value, i) => longer[i] === value);
}

/** A list for messages, shortened to its last elements when long. */
export function formatList(list: readonly number[], max = 12): string {
  if (list.length <= max) return `[${list.join(', ')}]`;
  return `[…${list.length - max} more, ${list.slice(-max).join(', ')}]`;
}

/** Op ids in first-seen order, without duplicates or gaps. */
export function opIds(...ids: (number | undefined)[]): number[] {
  return [...new Set(ids.filter((id): id is number => id !== undefined))];
}

/** Indexes a history: pairs invokes with completions and collects every observed list. */
export function indexHistory(events: readonly HistoryEvent[]): IndexedHistory {
  const { operations, byId } = pairOperations(events);
  const final = events.findLast((event): event is FinalEvent => event.type === 'final');
  return {
    events,
    operations,
    byId,
    final,
    observations: [...readObservations(operations), ...finalObservations(final)],
    appendersOf: appendersByValue(operations),
  };
}

/**
 * Pairs each op's first invoke with its first completion after it. Malformed pairings (no invoke,
 * two completions) are left out here: the incomplete-history rule reports them from the raw events.
 */
function pairOperations(events: readonly HistoryEvent[]): { operations: Operation[]; byId: Map<number, Operation> } {
  const byId = new Map<number, Operation>();
  events.forEach((event, position) => {
    if (event.type === 'invoke' && !byId.has(event.op)) {
      byId.set(event.op, { id: event.op, invoke: event, invokedAt: position });
    } else if (isCompletion(event)) {
      const op = byId.get(event.op);
      if (op && !op.completion) Object.assign(op, { completion: event, completedAt: position });
    }
  });
  return { operations: [...byId.values()], byId };
}

/** The lists that ok reads, append-reads and cross-finds returned, in completion order. */
function readObservations(operations: readonly Operation[]): Observation[] {
  const completed = operations
    .filter((op) => outcome(op) === 'ok')
    .sort((a, b) => (a.completedAt ?? 0) - (b.completedAt ?? 0));
  return completed.flatMap((op) => observationsOf(op));
}

/** What one ok operation saw (nothing when its result is malformed: reported elsewhere). */
function observationsOf(op: Operation): Observation[] {
  const { f, key } = op.invoke;
  const source = `op ${op.id} (${f})`;
  const result = op.completion?.result;
  if (readsOneList(f)) {
    const list = asList(result);
    return list && key !== undefined ? [{ key, list, op: op.id, source }] : [];
  }
  if (f === 'cross-find') {
    return Object.entries(asListMap(result) ?? {}).map(([k, list]) => ({ key: k, list, op: op.id, source }));
  }
  return [];
}

/** The final primary lists and every following replica's copy. */
function finalObservations(final: FinalEvent | undefined): Observation[] {
  if (!final) return [];
  const fromLists = (lists: Record<string, number[]>, source: string) =>
    Object.entries(lists).map(([key, list]): Observation => ({ key, list, source }));
  return [
    ...fromLists(final.lists, 'final lists'),
    ...Object.entries(final.replicaLists).flatMap(([replica, lists]) => fromLists(lists, `replica ${replica}`)),
  ];
}

/** Appended value → the append / append-read / append-pair operations that invoked it. */
function appendersByValue(operations: readonly Operation[]): Map<number, Operation[]> {
  const appenders = new Map<number, Operation[]>();
  for (const op of operations) {
    const { value } = op.invoke;
    if (!isAppend(op) || value === undefined) continue;
    appenders.set(value, [...(appenders.get(value) ?? []), op]);
  }
  return appenders;
}
