import type { AppendPath, ServedList } from './chaos-app.js';
import type { ChaosErrorBody } from './chaos-errors.filter.js';
import type { CompletionEvent, InvokeEvent, OperationKind, RecordedError } from './history.js';
import type { HistoryLog } from './history-log.js';
import type { Random } from './random.js';

/** The header carrying the consistency token, in requests and responses (the library's default). */
export const TOKEN_HEADER = 'x-shard-consistency';

/** Share of each operation kind. */
const MIX: Readonly<Record<OperationKind, number>> = {
  append: 25,
  read: 30,
  'append-read': 15,
  'append-pair': 10,
  'cross-find': 10,
  'cross-count': 10,
};

/** An append's invoke also says which path it took (an extra field: readers of the format ignore it). */
export type AppendInvoke = Omit<InvokeEvent, 'time'> & { via: AppendPath };

export interface WorkloadOptions {
  /** The app's base URL (`http://127.0.0.1:port`). */
  url: string;
  /** Concurrent sessions (logical clients). */
  sessions: number;
  /** The first keys (the number of keys in play at any time); each retires after `appendsPerKey` appends. */
  keys: readonly string[];
  /** Appends a key takes before a new key replaces it, so lists (and reads of them) stay short. @default 40 */
  appendsPerKey?: number;
  /** The shard of a key, as the app routes it: the two keys of an `append-pair` are on different shards. */
  shardOf: (key: string) => string;
  /** The run's random source; every session forks its own. */
  random: Random;
  log: HistoryLog;
  /** Aborted when no new operation may start (the run's end): operations in flight finish. */
  finish: AbortSignal;
  /** Aborted to cancel operations in flight too (Ctrl-C): they complete as unknown. */
  cancel: AbortSignal;
  /** An operation without an answer after this long completes as unknown. @default 10000 */
  opTimeoutMs?: number;
}

/** What the workload did, for the run's summary. */
export interface WorkloadSummary {
  operations: number;
  /** Sessions retired after an operation whose request may still run on the server. */
  retiredSessions: number;
  /** Every key the run used. */
  keys: string[];
}

/**
 * The keys in play: a fixed number of slots, each holding a key until it has taken its share of
 * appends, then a new key (Jepsen's list-append retires keys the same way: lists stay short, so reads
 * and the history stay small however long the run).
 */
class KeySpace {
  private readonly active: string[];
  private readonly appends = new Map<string, number>();
  readonly used: string[];
  private next = 0;

  constructor(
    first: readonly string[],
    private readonly appendsPerKey: number,
  ) {
    this.active = [...first];
    this.used = [...first];
  }

  /** A key for a read. */
  pick(random: Random): string {
    return random.pick(this.active);
  }

  /** A key for an append: counted, and replaced by a new key once it had its share. */
  pickForAppend(random: Random): string {
    const slot = random.int(0, this.active.length - 1);
    return this.countAppend(slot);
  }

  /**
   * Two keys for an append-pair, on different shards (each counted as an append), in the order picked;
   * undefined when every key in play is on one shard.
   */
  pickPairForAppend(random: Random, shardOf: (key: string) => string): [string, string] | undefined {
    const first = random.int(0, this.active.length - 1);
    const shard = shardOf(this.active[first]);
    const others = this.active.flatMap((key, slot) => (shardOf(key) === shard ? [] : [slot]));
    if (!others.length) return undefined;
    const second = random.pick(others);
    return [this.countAppend(first), this.countAppend(second)];
  }

  /** Counts an append to the key in `slot`; a key that had its share gives its slot to a new key. */
  private countAppend(slot: number): string {
    const key = this.active[slot];
    const appends = (this.appends.get(key) ?? 0) + 1;
    this.appends.set(key, appends);
    if (appends >= this.appendsPerKey) {
      const fresh = `r${String(this.next++).padStart(4, '0')}`;
      this.active[slot] = fresh;
      this.used.push(fresh);
    }
    return key;
  }

  /** The keys in play now (what cross-shard reads ask for). */
  snapshot(): string[] {
    return [...this.active].sort();
  }
}

/** An operation's end as the workload saw it, before it becomes a completion event. */
type Outcome =
  /** `delayed`: an append-pair committed with a shard's part still prepared (the error that said so). */
  | { type: 'ok'; body: unknown; token?: string; delayed?: RecordedError }
  | { type: 'fail' | 'info'; error: RecordedError; token?: string; stillRunning?: boolean };

/**
 * N sessions, each a loop of seeded random operations over HTTP: appends of run-unique values (by a
 * flushed transaction or an autocommit upsert), replica reads carrying the session's consistency
 * token, append-then-read in one request, one value appended to two keys on different shards in one
 * cross-shard transaction (append-pair), cross-shard find and count. Every operation is an `invoke`
 * followed by exactly one completion: `ok` (for an append-pair also `CrossShardTransactionError` with
 * outcome `committed`: applied, a shard's part finished by recovery; marked `delayed`); `fail` when the
 * library's answer means it did not happen (reads always, having no effect; an append-pair aborted);
 * `info` when it may have happened: `CommitOutcomeUnknownError`, outcome `unknown`, an append applied
 * before its read failed, no answer in time, a broken HTTP connection.
 *
 * After an operation whose request may still be running in the app (no answer in time, broken
 * connection), the session continues under a new session number, as Jepsen retires a process: a
 * session's operations never overlap, on the server either.
 */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadSummary> {
  const state = {
    nextOp: 1,
    nextValue: 1,
    nextSession: options.sessions,
    operations: 0,
    retired: 0,
    keys: new KeySpace(options.keys, options.appendsPerKey ?? 40),
  };
  await Promise.all(
    Array.from({ length: options.sessions }, (_, index) =>
      runSession(options, options.random.fork(index + 1), index, state),
    ),
  );
  return { operations: state.operations, retiredSessions: state.retired, keys: state.keys.used };
}

interface SharedState {
  nextOp: number;
  nextValue: number;
  nextSession: number;
  operations: number;
  retired: number;
  keys: KeySpace;
}

async function runSession(options: WorkloadOptions, random: Random, first: number, state: SharedState): Promise<void> {
  let session = first;
  let token: string | undefined;
  while (!options.finish.aborted && !options.cancel.aborted) {
    let f = random.weighted(MIX);
    const via: AppendPath = random.chance(0.5) ? 'flush' : 'upsert';
    const thinkMs = random.int(0, 20);
    const op = state.nextOp++;
    state.operations++;
    const pair = f === 'append-pair' ? state.keys.pickPairForAppend(random, options.shardOf) : undefined;
    if (f === 'append-pair' && !pair) f = 'append';
    const writes = f === 'append' || f === 'append-read' || f === 'append-pair';
    const invoke: AppendInvoke | Omit<InvokeEvent, 'time'> = pair
      ? { type: 'invoke', op, session, f, keys: pair, value: state.nextValue++, via }
      : writes
        ? { type: 'invoke', op, session, f, key: state.keys.pickForAppend(random), value: state.nextValue++, via }
        : {
            type: 'invoke',
            op,
            session,
            f,
            ...(f === 'read' ? { key: state.keys.pick(random) } : { keys: state.keys.snapshot() }),
            ...(token !== undefined && { token }),
          };
    options.log.record(invoke);
    let outcome: Outcome;
    try {
      outcome = await perform(options, invoke, token);
    } catch (error) {
      // a bug of the runner itself: still complete the operation, as unknown
      outcome = { type: writes ? 'info' : 'fail', error: recordedError('RunnerError', error) };
    }
    if (outcome.token) token = outcome.token;
    options.log.record(completion(invoke, outcome, writes ? token : undefined));
    if (outcome.type !== 'ok' && outcome.stillRunning) {
      session = state.nextSession++;
      state.retired++;
    }
    if (thinkMs) await new Promise((resolve) => setTimeout(resolve, thinkMs));
  }
}

function completion(
  invoke: Omit<InvokeEvent, 'time'>,
  outcome: Outcome,
  token: string | undefined,
): Omit<CompletionEvent, 'time'> {
  const { op, session, f, key, keys, value } = invoke;
  const base = {
    op,
    session,
    f,
    ...(key !== undefined && { key }),
    ...(f === 'append-pair' && keys !== undefined && { keys }),
    ...(value !== undefined && { value }),
    ...(token !== undefined && { token }),
  };
  if (outcome.type !== 'ok') return { type: outcome.type, ...base, error: outcome.error };
  const body = outcome.body as Partial<ServedList> & { lists?: Record<string, number[]>; count?: number };
  switch (f) {
    case 'append':
      return { type: 'ok', ...base };
    case 'append-pair':
      return { type: 'ok', ...base, ...(outcome.delayed && { delayed: true, error: outcome.delayed }) };
    case 'read':
    case 'append-read':
      return { type: 'ok', ...base, result: body.list, ...(body.node !== undefined && { node: body.node }) };
    case 'cross-find':
      return { type: 'ok', ...base, result: body.lists };
    case 'cross-count':
      return { type: 'ok', ...base, result: body.count };
  }
}

/** Sends the operation's request and classifies its answer. */
async function perform(
  options: WorkloadOptions,
  invoke: Omit<InvokeEvent, 'time'> & { via?: AppendPath },
  token: string | undefined,
): Promise<Outcome> {
  const { f, key, value, via, keys } = invoke;
  const writes = f === 'append' || f === 'append-read' || f === 'append-pair';
  const request: { method: string; path: string; body?: object } =
    f === 'append' || f === 'append-read'
      ? { method: 'POST', path: `/lists/${key}/${f}`, body: { value, via } }
      : f === 'append-pair'
        ? { method: 'POST', path: `/pairs/${keys![0]}/${keys![1]}`, body: { value, via } }
        : f === 'read'
          ? { method: 'GET', path: `/lists/${key}` }
          : { method: 'GET', path: `${f === 'cross-find' ? '/lists' : '/count'}?keys=${keys!.join(',')}` };
  const timeoutMs = options.opTimeoutMs ?? 10_000;
  let response: Response;
  let text: string;
  try {
    response = await fetch(options.url + request.path, {
      method: request.method,
      headers: {
        ...(request.body && { 'content-type': 'application/json' }),
        ...(token !== undefined && { [TOKEN_HEADER]: token }),
      },
      body: request.body && JSON.stringify(request.body),
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), options.cancel]),
    });
    text = await response.text();
  } catch (error) {
    // by name: under Jest the DOMException class of the test's realm is not undici's
    const timedOut = (error as { name?: unknown } | null)?.name === 'TimeoutError';
    const recorded = timedOut
      ? { name: 'ClientTimeout', message: `no answer within ${timeoutMs} ms` }
      : options.cancel.aborted
        ? { name: 'ClientAborted', message: 'the run was interrupted' }
        : recordedError('ClientConnectionError', error);
    return { type: writes ? 'info' : 'fail', error: recorded, stillRunning: true };
  }
  const nextToken = response.headers.get(TOKEN_HEADER) ?? undefined;
  const body = parse(text);
  if (response.ok) return { type: 'ok', body, token: nextToken };
  const answer = (body ?? {}) as Partial<ChaosErrorBody>;
  const error: RecordedError = {
    name: answer.error ?? 'HttpError',
    ...(answer.code !== undefined && { code: answer.code }),
    message: answer.message ?? text.slice(0, 200),
    status: response.status,
    ...(answer.outcome !== undefined && { outcome: answer.outcome }),
  };
  if (f === 'append-pair') {
    // the cross-shard transaction's outcome: committed (a shard applies it after recovery), unknown, or
    // not applied at all (aborted, or an error before the commit protocol: every part rolled back)
    if (answer.outcome === 'committed') return { type: 'ok', body, token: nextToken, delayed: error };
    const unknownPair = answer.outcome === 'unknown' || error.name === 'CommitOutcomeUnknownError';
    return { type: unknownPair ? 'info' : 'fail', error, token: nextToken };
  }
  const unknown = answer.outcome !== undefined || error.name === 'CommitOutcomeUnknownError';
  return { type: writes && unknown ? 'info' : 'fail', error, token: nextToken };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A client-side error as the history records it: the socket code of its cause, if any. */
function recordedError(name: string, error: unknown): RecordedError {
  let code: string | undefined;
  for (let e: unknown = error, depth = 0; e && depth < 4 && code === undefined; depth++) {
    const { code: c, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof c === 'string') code = c;
    e = cause;
  }
  const message = error instanceof Error ? error.message : String(error);
  return { name, ...(code !== undefined && { code }), message: message.split('\n', 1)[0] };
}
