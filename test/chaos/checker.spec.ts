import { type AnomalyKind, type CheckReport, checkHistory, formatReport } from './checker.js';
import type { CompletionEvent, FinalEvent, HistoryEvent, OperationKind, RecordedError } from './history.js';

// ---------------------------------------------------------------------------------------------------
// a tiny history builder
// ---------------------------------------------------------------------------------------------------

const unavailable: RecordedError = { name: 'ShardUnavailableError', message: 'shard s0 is unavailable', status: 503 };
const outcomeUnknown: RecordedError = { name: 'CommitOutcomeUnknownError', message: 'commit outcome unknown' };
const txError = (outcome: string): RecordedError => ({
  name: 'CrossShardTransactionError',
  message: `the transaction ended ${outcome}`,
  status: 503,
  outcome,
});
const aborted = txError('aborted');
const txUnknown = txError('unknown');
const committedPending = txError('committed');

/** What an operation carries: session 1 unless told, outcome ok unless told. */
interface OpSpec {
  session?: number;
  key?: string;
  value?: number;
  /** The token the invoke carries (reads). */
  token?: string;
  /** The keys a cross-shard read asks for. */
  keys?: string[];
  type?: CompletionEvent['type'];
  result?: CompletionEvent['result'];
  /** Defaults to ShardUnavailableError for fail, CommitOutcomeUnknownError for info. */
  error?: RecordedError;
  /** An ok append-pair committed with a shard left to recovery (its error: outcome committed by default). */
  delayed?: boolean;
}

class History {
  readonly events: HistoryEvent[] = [];
  private nextOp = 1;

  /** Starts an operation; returns its op id (complete it with `complete`). */
  invoke(f: OperationKind, { session = 1, key, value, token, keys }: OpSpec = {}): number {
    const op = this.nextOp++;
    this.push({ type: 'invoke', op, session, f, key, value, token, keys });
    return op;
  }

  /** Completes an operation started with `invoke`. */
  complete(op: number, { type = 'ok', result, error, delayed }: OpSpec = {}): this {
    const invoke = this.events.find((e) => e.type === 'invoke' && e.op === op);
    if (invoke?.type !== 'invoke') throw new Error(`op ${op} was not invoked`);
    const { session, f, key, value } = invoke;
    const keys = f === 'append-pair' ? invoke.keys : undefined;
    if (delayed) {
      this.push({ type, op, session, f, keys, value, delayed, error: error ?? committedPending });
      return this;
    }
    const thrown = type === 'ok' ? undefined : (error ?? (type === 'fail' ? unavailable : outcomeUnknown));
    this.push({ type, op, session, f, key, keys, value, result, error: thrown });
    return this;
  }

  /** One operation, invoked and completed right away; returns its op id. */
  op(f: OperationKind, spec: OpSpec = {}): number {
    const op = this.invoke(f, spec);
    this.complete(op, spec);
    return op;
  }

  append(key: string, value: number, spec: OpSpec = {}): number {
    return this.op('append', { key, value, ...spec });
  }

  read(key: string, result: number[], spec: OpSpec = {}): number {
    return this.op('read', { key, result, ...spec });
  }

  appendRead(key: string, value: number, result: number[], spec: OpSpec = {}): number {
    return this.op('append-read', { key, value, result, ...spec });
  }

  /** One value appended to two keys (on two shards) in one cross-shard transaction. */
  pair(keys: [string, string], value: number, spec: OpSpec = {}): number {
    return this.op('append-pair', { keys, value, ...spec });
  }

  fault(fault: string, nodes: string[]): this {
    this.push({ type: 'fault', fault, nodes });
    return this;
  }

  /** Ends the history: the primary's lists, by default copied to one replica, and clean pools. */
  final(lists: Record<string, number[]>, overrides: Partial<FinalEvent> = {}): HistoryEvent[] {
    this.push({
      type: 'final',
      lists,
      replicaLists: { 's0-replica-1': lists },
      orphanedReplicas: [],
      pools: { 's0-primary': { total: 2, idle: 2, waiting: 0 } },
      ...overrides,
    });
    return this.events;
  }

  private push(event: DistributiveOmit<HistoryEvent, 'time'>): void {
    this.events.push({ ...event, time: this.events.length } as HistoryEvent);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const kinds = (report: CheckReport): AnomalyKind[] => report.anomalies.map((a) => a.kind).sort();

/** Checks the history, expecting exactly one anomaly of `kind`; returns it. */
function onlyAnomaly(events: HistoryEvent[], kind: AnomalyKind) {
  const report = checkHistory(events);
  expect(kinds(report)).toEqual([kind]);
  return report.anomalies[0];
}

// ---------------------------------------------------------------------------------------------------

describe('checkHistory', () => {
  describe('a clean run', () => {
    const cleanRun = () => {
      const h = new History();
      h.append('a', 1, { session: 1 });
      h.read('a', [1], { session: 1, token: 't1' });
      h.fault('kill', ['s0-primary']);
      h.append('b', 2, { session: 2, type: 'fail' });
      h.append('a', 3, { session: 2, type: 'info' }); // outcome unknown, and it never landed
      h.appendRead('a', 4, [1, 4], { session: 1 });
      h.fault('heal', ['s0-primary']);
      h.op('cross-find', { session: 3, result: { a: [1, 4] } });
      h.op('cross-count', { session: 3, result: 1 });
      h.read('b', [], { session: 2 });
      return h.final({ a: [1, 4] });
    };

    it('has no anomaly', () => {
      expect(checkHistory(cleanRun()).anomalies).toEqual([]);
    });

    it('counts operations by outcome and kind, errors and faults', () => {
      const report = checkHistory(cleanRun());
      expect(report.operations).toEqual({
        total: 8,
        ok: 6,
        fail: 1,
        info: 1,
        byKind: {
          append: { ok: 1, fail: 1, info: 1 },
          read: { ok: 2, fail: 0, info: 0 },
          'append-read': { ok: 1, fail: 0, info: 0 },
          'cross-find': { ok: 1, fail: 0, info: 0 },
          'cross-count': { ok: 1, fail: 0, info: 0 },
        },
      });
      expect(report.errors).toEqual({ ShardUnavailableError: 1, CommitOutcomeUnknownError: 1 });
      expect(report.faults).toEqual({ kill: 1, heal: 1 });
    });
  });

  describe('edge cases that are fine', () => {
    it('an info append may be missing from the final list', () => {
      const h = new History();
      h.append('a', 1, { type: 'info' });
      expect(checkHistory(h.final({})).anomalies).toEqual([]);
    });

    it('an info append may be present in reads and the final list', () => {
      const h = new History();
      h.append('a', 1, { type: 'info' });
      h.read('a', [1], { session: 2 });
      expect(checkHistory(h.final({ a: [1] })).anomalies).toEqual([]);
    });

    it('a read without a token may be stale', () => {
      const h = new History();
      h.append('a', 1, { session: 1 });
      h.append('a', 2, { session: 1 });
      h.read('a', [], { session: 1 });
      h.read('a', [1], { session: 2, token: 't2' }); // a token covers its own session's writes only
      expect(checkHistory(h.final({ a: [1, 2] })).anomalies).toEqual([]);
    });

    it('a missing key and an empty list are the same', () => {
      const h = new History();
      h.read('a', [], { token: 't1' });
      h.op('cross-find', { result: { a: [] } });
      h.op('cross-count', { result: 0 });
      const events = h.final({ a: [] }, { replicaLists: { 's0-replica-1': {} } });
      expect(checkHistory(events).anomalies).toEqual([]);
    });

    it('an empty history with only its final event', () => {
      expect(checkHistory(new History().final({})).anomalies).toEqual([]);
    });

    it('allowed errors: a failed statement, 08P01 (one bad message) and 503', () => {
      const h = new History();
      const protocol = { name: 'DriverException', code: '08P01', message: 'invalid message format' };
      h.append('a', 1, { type: 'fail', error: protocol });
      h.append('a', 2, { type: 'fail', error: { name: 'UniqueConstraintViolationException', message: 'dup' } });
      h.append('a', 3, { type: 'info', error: { ...unavailable, status: 503 } });
      expect(checkHistory(h.final({})).anomalies).toEqual([]);
    });
  });

  describe('incomplete-history', () => {
    it('an invoke without a completion', () => {
      const h = new History();
      const op = h.invoke('append', { key: 'a', value: 1 });
      expect(onlyAnomaly(h.final({}), 'incomplete-history').ops).toEqual([op]);
    });

    it('a completion without an invoke', () => {
      const events: HistoryEvent[] = [
        { type: 'ok', time: 0, op: 7, session: 1, f: 'read', key: 'a', result: [] },
        ...new History().final({}),
      ];
      expect(onlyAnomaly(events, 'incomplete-history').ops).toEqual([7]);
    });

    it('two completions of one op', () => {
      const h = new History();
      const op = h.append('a', 1);
      h.complete(op, { type: 'ok' });
      expect(onlyAnomaly(h.final({ a: [1] }), 'incomplete-history').ops).toEqual([op]);
    });

    it('a completion of another session or kind', () => {
      const h = new History();
      const op = h.invoke('append', { key: 'a', value: 1 });
      h.events.push({ type: 'ok', time: 1, op, session: 2, f: 'append-read', key: 'a', value: 1, result: [1] });
      const anomaly = onlyAnomaly(h.final({ a: [1] }), 'incomplete-history');
      expect(anomaly.ops).toEqual([op]);
      expect(anomaly.message).toContain('session 1 → 2, f append → append-read');
    });

    it('a session with two operations open at once', () => {
      const h = new History();
      const first = h.invoke('read', { key: 'a' });
      const second = h.invoke('read', { key: 'a' });
      h.complete(first, { result: [] }).complete(second, { result: [] });
      expect(onlyAnomaly(h.final({}), 'incomplete-history').ops).toEqual([first, second]);
    });

    it('no final event', () => {
      const h = new History();
      h.append('a', 1);
      expect(onlyAnomaly(h.events, 'incomplete-history').message).toContain('no final event');
    });

    it('two final events', () => {
      const events = new History().final({});
      expect(onlyAnomaly([...events, ...events], 'incomplete-history').message).toContain('2 final events');
    });

    it('an event after the final one', () => {
      const events = new History().final({});
      const late: HistoryEvent = { type: 'fault', time: 9, fault: 'heal', nodes: [] };
      expect(onlyAnomaly([...events, late], 'incomplete-history').message).toContain('follow the final event');
    });

    it('a value appended twice (values are unique in the run)', () => {
      const h = new History();
      const first = h.append('a', 1, { type: 'info' });
      const second = h.append('a', 1);
      expect(onlyAnomaly(h.final({ a: [1] }), 'incomplete-history').ops).toEqual([first, second]);
    });

    it('an ok read with a result that is not a list', () => {
      const h = new History();
      const op = h.op('read', { key: 'a', result: 3 });
      expect(onlyAnomaly(h.final({}), 'incomplete-history').ops).toEqual([op]);
    });
  });

  describe('lost-append', () => {
    it('an ok append missing from the final list', () => {
      const h = new History();
      h.append('a', 1);
      const lost = h.append('a', 2);
      const anomaly = onlyAnomaly(h.final({ a: [1] }), 'lost-append');
      expect(anomaly).toMatchObject({ key: 'a', ops: [lost] });
    });

    it('an ok append-read missing from the final list', () => {
      const h = new History();
      const lost = h.appendRead('a', 1, [1]);
      expect(onlyAnomaly(h.final({}, { replicaLists: {} }), 'lost-append').ops).toEqual([lost]);
    });

    it('an info append a read saw, missing from the final list', () => {
      const h = new History();
      const append = h.append('a', 1, { type: 'info' });
      const read = h.read('a', [1], { session: 2 });
      expect(onlyAnomaly(h.final({}), 'lost-append').ops).toEqual([append, read]);
    });

    it('a cross-count below the keys acknowledged appends created', () => {
      const h = new History();
      h.append('a', 1);
      h.append('b', 2);
      const count = h.op('cross-count', { result: 1 });
      expect(onlyAnomaly(h.final({ a: [1], b: [2] }), 'lost-append').ops).toEqual([count]);
    });

    it('a cross-count on replicas may miss another session’s newest key (its token does not cover it)', () => {
      const h = new History();
      h.append('a', 1, { session: 1 });
      h.append('b', 2, { session: 2 });
      h.op('cross-count', { session: 1, result: 1 });
      expect(checkHistory(h.final({ a: [1], b: [2] })).anomalies).toEqual([]);
    });

    it('a cross-count of some keys is bounded by those keys only', () => {
      const h = new History();
      h.append('a', 1);
      h.append('b', 2);
      h.op('cross-count', { result: 1, keys: ['a', 'c'] });
      expect(checkHistory(h.final({ a: [1], b: [2] })).anomalies).toEqual([]);
      const low = new History();
      low.append('a', 1);
      low.append('b', 2);
      const count = low.op('cross-count', { result: 0, keys: ['a', 'c'] });
      expect(onlyAnomaly(low.final({ a: [1], b: [2] }), 'lost-append').ops).toEqual([count]);
    });
  });

  describe('duplicate-append', () => {
    it('a value twice in the final list', () => {
      const h = new History();
      const append = h.append('a', 1);
      const events = h.final({ a: [1, 1] }, { replicaLists: {} });
      expect(onlyAnomaly(events, 'duplicate-append')).toMatchObject({ key: 'a', ops: [append] });
    });

    it('a value twice in a read', () => {
      const h = new History();
      const append = h.append('a', 1, { type: 'info' });
      const read = h.read('a', [1, 1], { session: 2 });
      expect(onlyAnomaly(h.final({ a: [1] }), 'duplicate-append').ops).toEqual([append, read]);
    });
  });

  describe('failed-append-visible', () => {
    it('a failed append in a read', () => {
      const h = new History();
      const failed = h.append('a', 1, { type: 'fail' });
      const read = h.read('a', [1], { session: 2 });
      expect(onlyAnomaly(h.final({ a: [1] }), 'failed-append-visible').ops).toEqual([failed, read]);
    });

    it('a failed append in the final list only', () => {
      const h = new History();
      const failed = h.append('a', 1, { type: 'fail' });
      expect(onlyAnomaly(h.final({ a: [1] }), 'failed-append-visible')).toMatchObject({ key: 'a', ops: [failed] });
    });
  });

  describe('phantom-value', () => {
    it('a value nobody appended', () => {
      const h = new History();
      h.append('a', 1);
      const read = h.read('a', [1, 99], { session: 2 });
      const anomaly = onlyAnomaly(h.final({ a: [1, 99] }), 'phantom-value');
      expect(anomaly).toMatchObject({ key: 'a', ops: [read] });
    });

    it('a value appended to another key', () => {
      const h = new History();
      const append = h.append('a', 1, { type: 'info' });
      const find = h.op('cross-find', { session: 2, result: { b: [1] } });
      const anomaly = onlyAnomaly(h.final({}), 'phantom-value');
      expect(anomaly).toMatchObject({ key: 'b', ops: [find, append] });
      expect(anomaly.message).toContain(`op ${append} appended it to key a`);
    });

    it('a cross-count above the keys appends could have created', () => {
      const h = new History();
      h.append('a', 1);
      h.append('b', 2, { type: 'fail' });
      const count = h.op('cross-count', { result: 2 });
      expect(onlyAnomaly(h.final({ a: [1] }), 'phantom-value').ops).toEqual([count]);
    });
  });

  describe('incompatible-order', () => {
    it('two reads that are not prefixes of one another', () => {
      const h = new History();
      h.append('a', 1, { session: 1 });
      h.append('a', 2, { session: 2 });
      const stale = h.read('a', [2], { session: 3 });
      const full = h.read('a', [1, 2], { session: 4 });
      const anomaly = onlyAnomaly(h.final({ a: [1, 2] }), 'incompatible-order');
      expect(anomaly).toMatchObject({ key: 'a', ops: [stale, full] });
    });

    it('a read that disagrees with the final list at equal length', () => {
      const h = new History();
      h.append('a', 1, { session: 1 });
      h.append('a', 2, { session: 2 });
      const read = h.read('a', [2, 1], { session: 3 });
      expect(onlyAnomaly(h.final({ a: [1, 2] }), 'incompatible-order').ops).toEqual([read]);
    });
  });

  describe('read-your-writes', () => {
    it('a read with the token missing the session’s acknowledged append', () => {
      const h = new History();
      const append = h.append('a', 1);
      const read = h.read('a', [], { token: 't1' });
      const anomaly = onlyAnomaly(h.final({ a: [1] }), 'read-your-writes');
      expect(anomaly).toMatchObject({ key: 'a', ops: [read, append] });
    });

    it('an append-read missing its own value', () => {
      const h = new History();
      const appendRead = h.appendRead('a', 1, []);
      expect(onlyAnomaly(h.final({ a: [1] }), 'read-your-writes').ops).toEqual([appendRead]);
    });

    it('an append-read missing an earlier append of the session', () => {
      const h = new History();
      h.append('a', 1, { session: 2 });
      const earlier = h.append('a', 2);
      const appendRead = h.appendRead('a', 3, [1, 3]);
      const events = h.final({ a: [1, 2, 3] });
      const report = checkHistory(events);
      // [1, 3] is not a prefix of [1, 2, 3] either
      expect(kinds(report)).toEqual(['incompatible-order', 'read-your-writes']);
      expect(report.anomalies.find((a) => a.kind === 'read-your-writes')?.ops).toEqual([appendRead, earlier]);
    });
  });

  describe('monotonic-reads', () => {
    it('a session reading fewer values than it read before', () => {
      const h = new History();
      h.append('a', 1, { session: 1 });
      h.append('a', 2, { session: 1 });
      const longer = h.read('a', [1, 2], { session: 2 });
      const shorter = h.read('a', [1], { session: 2 });
      const anomaly = onlyAnomaly(h.final({ a: [1, 2] }), 'monotonic-reads');
      expect(anomaly).toMatchObject({ key: 'a', ops: [longer, shorter] });
    });

    it('two sessions may read in any order', () => {
      const h = new History();
      h.append('a', 1, { session: 1 });
      h.read('a', [1], { session: 2 });
      h.read('a', [], { session: 3 });
      expect(checkHistory(h.final({ a: [1] })).anomalies).toEqual([]);
    });
  });

  describe('unexpected-error', () => {
    it('an error outside the allowed names', () => {
      const h = new History();
      const op = h.read('a', [], { type: 'fail', error: { name: 'TypeError', message: 'x is undefined' } });
      expect(onlyAnomaly(h.final({}), 'unexpected-error').ops).toEqual([op]);
    });

    it('a failure without an error', () => {
      const h = new History();
      const op = h.invoke('read', { key: 'a' });
      h.events.push({ type: 'fail', time: 1, op, session: 1, f: 'read', key: 'a' });
      expect(onlyAnomaly(h.final({}), 'unexpected-error').message).toContain('no error recorded');
    });

    it.each(['08006', '57P01', 'ECONNRESET', 'ECONNREFUSED'])(
      'a lost connection (%s) leaked as a statement error',
      (code) => {
        const h = new History();
        const error = { name: 'DriverException', code, message: 'connection lost' };
        const op = h.read('a', [], { type: 'fail', error });
        const anomaly = onlyAnomaly(h.final({}), 'unexpected-error');
        expect(anomaly.ops).toEqual([op]);
        expect(anomaly.message).toContain(code);
      },
    );

    it('info with an error that cannot leave the outcome unknown', () => {
      const h = new History();
      const error = { name: 'UniqueConstraintViolationException', message: 'duplicate key' };
      const op = h.append('a', 1, { type: 'info', error });
      expect(onlyAnomaly(h.final({}), 'unexpected-error').ops).toEqual([op]);
    });
  });

  describe('http-500', () => {
    it('a 500 answer, even with an allowed error', () => {
      const h = new History();
      const error = { name: 'ShardingError', message: 'oops', status: 500 };
      const op = h.read('a', [], { type: 'fail', error });
      expect(onlyAnomaly(h.final({}), 'http-500')).toMatchObject({ key: 'a', ops: [op] });
    });
  });

  describe('replica-diverged', () => {
    it('a replica missing the last value', () => {
      const h = new History();
      h.append('a', 1);
      const last = h.append('a', 2);
      const events = h.final({ a: [1, 2] }, { replicaLists: { 's0-replica-1': { a: [1] } } });
      const anomaly = onlyAnomaly(events, 'replica-diverged');
      expect(anomaly).toMatchObject({ key: 'a', ops: [last] });
      expect(anomaly.message).toContain('s0-replica-1');
    });

    it('a replica with a key the primary lacks', () => {
      const h = new History();
      const append = h.append('b', 1, { type: 'info' });
      const events = h.final({}, { replicaLists: { 's0-replica-1': { b: [1] } } });
      expect(onlyAnomaly(events, 'replica-diverged')).toMatchObject({ key: 'b', ops: [append] });
    });

    it('replicas are compared on their own shard’s keys only', () => {
      const run = (replicaLists: FinalEvent['replicaLists']) => {
        const h = new History();
        h.append('a', 1);
        h.append('b', 2);
        return h.final({ a: [1], b: [2] }, { replicaLists });
      };
      const lists = { 's0-replica-1': { a: [1] }, 's1-replica-1': { b: [2], c: [] } };
      expect(checkHistory(run(lists)).anomalies).toEqual([]);
      const behind = { ...lists, 's1-replica-1': { b: [], c: [] } };
      expect(onlyAnomaly(run(behind), 'replica-diverged').key).toBe('b');
    });
  });

  describe('connection-leak', () => {
    it('a connection still checked out', () => {
      const events = new History().final({}, { pools: { 's0-primary': { total: 3, idle: 2, waiting: 0 } } });
      expect(onlyAnomaly(events, 'connection-leak').message).toContain('s0-primary: 1 of 3 connections checked out');
    });

    it('a caller still waiting', () => {
      const events = new History().final({}, { pools: { 's1-replica-1': { total: 1, idle: 1, waiting: 2 } } });
      expect(onlyAnomaly(events, 'connection-leak').message).toContain('2 callers waiting');
    });
  });
});

describe('checkHistory: append-pair (one value on two keys, one cross-shard transaction)', () => {
  it('a clean run: ok in both lists, aborted in neither, unknown in both or neither, delayed in both', () => {
    const h = new History();
    h.pair(['a', 'b'], 1);
    h.read('b', [1], { token: 't1' });
    h.pair(['a', 'b'], 2, { type: 'fail', error: aborted });
    h.pair(['b', 'c'], 3, { type: 'fail' }); // ShardUnavailableError before anything was sent
    h.pair(['a', 'c'], 4, { type: 'info', error: txUnknown });
    h.pair(['b', 'c'], 5, { type: 'info', error: txUnknown, session: 2 });
    h.pair(['a', 'b'], 6, { delayed: true });
    // the pending shard shows the delayed pair only after recovery: a read with the token may miss it
    h.read('b', [1], { token: 't1' });
    h.op('cross-count', { result: 2, keys: ['a', 'b'] });
    const report = checkHistory(h.final({ a: [1, 4, 6], b: [1, 6], c: [4] }, { prepared: { 's0-primary': [] } }));
    expect(report.anomalies).toEqual([]);
    expect(report.operations.byKind['append-pair']).toEqual({ ok: 2, fail: 2, info: 2 });
    expect(report.errors).toMatchObject({ CrossShardTransactionError: 4 });
  });

  it('lost-append and split-pair: an ok pair missing from one of its keys', () => {
    const h = new History();
    const op = h.pair(['a', 'b'], 1);
    const report = checkHistory(h.final({ a: [1], b: [] }));
    expect(kinds(report)).toEqual(['lost-append', 'split-pair']);
    expect(report.anomalies.find((a) => a.kind === 'lost-append')).toMatchObject({ key: 'b', ops: [op] });
    expect(report.anomalies.find((a) => a.kind === 'split-pair')?.message).toContain(
      "is in key a's final list but not in key b's",
    );
  });

  it('lost-append, once per key: an ok pair missing from both (no split)', () => {
    const h = new History();
    h.pair(['a', 'b'], 1);
    const report = checkHistory(h.final({}));
    expect(kinds(report)).toEqual(['lost-append', 'lost-append']);
    expect(report.anomalies.map((a) => a.key).sort()).toEqual(['a', 'b']);
  });

  it('lost-append: a delayed pair (outcome committed) is applied, recovery must finish it', () => {
    const h = new History();
    h.pair(['a', 'b'], 1, { delayed: true });
    const report = checkHistory(h.final({ a: [1] }));
    expect(kinds(report)).toEqual(['lost-append', 'split-pair']);
    expect(report.anomalies[0].message).toContain('committed with a shard left to recovery');
  });

  it('lost-append: an info pair one key’s read saw is missing from both final lists', () => {
    const h = new History();
    const pair = h.pair(['a', 'b'], 1, { type: 'info', error: txUnknown });
    const read = h.read('a', [1], { session: 2 });
    const report = checkHistory(h.final({}));
    expect(kinds(report)).toEqual(['lost-append', 'lost-append']);
    expect(report.anomalies.map((a) => a.ops)).toEqual([
      [pair, read],
      [pair, read],
    ]);
  });

  it('split-pair: an info pair in one final list only', () => {
    const h = new History();
    const op = h.pair(['a', 'b'], 1, { type: 'info', error: txUnknown });
    const anomaly = onlyAnomaly(h.final({ a: [], b: [1] }), 'split-pair');
    expect(anomaly).toMatchObject({ key: 'a', ops: [op] });
    expect(anomaly.message).toContain('info, CrossShardTransactionError outcome unknown');
  });

  it('failed-append-visible and split-pair: an aborted pair in one list', () => {
    const h = new History();
    const op = h.pair(['a', 'b'], 1, { type: 'fail', error: aborted });
    const read = h.read('b', [1], { session: 2 });
    const report = checkHistory(h.final({ b: [1] }));
    expect(kinds(report)).toEqual(['failed-append-visible', 'split-pair']);
    const visible = report.anomalies.find((a) => a.kind === 'failed-append-visible')!;
    expect(visible).toMatchObject({ key: 'b', ops: [op, read] });
    expect(visible.message).toContain('outcome aborted');
  });

  it('phantom-value: a pair’s value in a third key', () => {
    const h = new History();
    h.pair(['a', 'b'], 1);
    const read = h.read('c', [1], { session: 2 });
    const anomaly = onlyAnomaly(h.final({ a: [1], b: [1] }), 'phantom-value');
    expect(anomaly.key).toBe('c');
    expect(anomaly.ops).toContain(read);
    expect(anomaly.message).toContain('appended it to key a and b');
  });

  it('read-your-writes: a read with the token missing the session’s ok pair on either key', () => {
    const h = new History();
    const pair = h.pair(['a', 'b'], 1);
    const read = h.read('b', [], { token: 't1' });
    expect(onlyAnomaly(h.final({ a: [1], b: [1] }), 'read-your-writes').ops).toEqual([read, pair]);
  });

  it('a cross-count below the keys an ok pair created', () => {
    const h = new History();
    h.pair(['a', 'b'], 1);
    const count = h.op('cross-count', { result: 1, keys: ['a', 'b'] });
    expect(onlyAnomaly(h.final({ a: [1], b: [1] }), 'lost-append').ops).toEqual([count]);
  });

  it('incomplete-history: a pair needs two different keys', () => {
    const h = new History();
    const op = h.op('append-pair', { keys: ['a', 'a'], value: 1 });
    expect(onlyAnomaly(h.final({ a: [1] }), 'incomplete-history').ops).toEqual([op]);
  });

  it('unexpected-error: a transaction’s outcome that disagrees with its completion', () => {
    const h = new History();
    const failedCommitted = h.pair(['a', 'b'], 1, { type: 'fail', error: committedPending });
    const infoAborted = h.pair(['a', 'b'], 2, { type: 'info', error: aborted });
    const delayedWrong = h.pair(['a', 'b'], 3, { delayed: true, error: unavailable });
    const report = checkHistory(h.final({ a: [3], b: [3] }));
    expect(kinds(report)).toEqual(['unexpected-error', 'unexpected-error', 'unexpected-error']);
    expect(report.anomalies.map((a) => a.ops[0])).toEqual([failedCommitted, infoAborted, delayedWrong]);
  });

  it('prepared-left: a prepared transaction of ours after the closing recovery', () => {
    const events = new History().final({}, { prepared: { 's0-primary': [], 's1-primary': ['nms:s0:812:s1'] } });
    const anomaly = onlyAnomaly(events, 'prepared-left');
    expect(anomaly.message).toContain('node s1-primary still holds 1 prepared transaction(s) of ours');
    expect(anomaly.message).toContain('nms:s0:812:s1');
  });
});

describe('formatReport', () => {
  it('summarizes operations, errors, faults, anomalies with their history lines, and the replay command', () => {
    const h = new History();
    h.fault('kill', ['s0-primary']);
    const lost = h.append('a', 1);
    h.append('a', 2, { type: 'fail' });
    const text = formatReport(checkHistory(h.final({})), 'npm run chaos -- --seed 42');
    expect(text).toContain('Operations: 2 (1 ok, 1 fail, 0 info)');
    expect(text).toMatch(/append\s+1 ok, 1 fail, 0 info/);
    expect(text).toContain('Errors: ShardUnavailableError 1');
    expect(text).toContain('Faults: kill 1');
    expect(text).toContain('Anomalies: 1');
    expect(text).toContain(`1. lost-append: value 1 acknowledged by op ${lost} (append)`);
    expect(text).toContain(`op ${lost} invoke {"type":"invoke","op":${lost}`);
    expect(text).toContain(`op ${lost} ok     {"type":"ok","op":${lost}`);
    expect(text.split('\n').at(-1)).toBe('Replay: npm run chaos -- --seed 42');
  });

  it('says so when nothing is wrong', () => {
    const text = formatReport(checkHistory(new History().final({})), 'replay');
    expect(text).toContain('Errors: none');
    expect(text).toContain('Faults: none');
    expect(text).toContain('Anomalies: none');
  });
});
