/**
 * The list-append rules: what the observed lists must say about the appends (nothing lost, doubled,
 * invented or taken back), their order, and what one session must see of its own writes.
 */
import {
  type Anomaly,
  appendedKeys,
  formatList,
  type IndexedHistory,
  isAppend,
  isDelayed,
  isPrefix,
  type Observation,
  type Operation,
  opIds,
  outcome,
  readsOneList,
} from './checker-model.js';

/** Key → value → the observations whose list holds that value. */
type Sightings = Map<string, Map<number, Observation[]>>;

/**
 * lost-append: an acknowledged append must be in its key's final list, since `ok` means it
 * happened (an append-pair: in each of its keys' lists, also when a shard's part was left to recovery).
 * An `info` append may be missing, unless an ok read saw it: then it happened too (an append-pair seen
 * under either of its keys happened on both).
 */
export function checkLostAppends(history: IndexedHistory): Anomaly[] {
  const { final } = history;
  if (!final) return [];
  const seen = sightings(history);
  return history.operations.filter(isAppend).flatMap((op) => {
    const { value } = op.invoke;
    if (value === undefined) return [];
    const readers = appendedKeys(op)
      .flatMap((k) => seen.get(k)?.get(value) ?? [])
      .filter((o) => o.op !== undefined);
    return appendedKeys(op).flatMap((key): Anomaly[] => {
      if ((final.lists[key] ?? []).includes(value)) return [];
      if (outcome(op) === 'ok') {
        const delayed = isDelayed(op) ? ', committed with a shard left to recovery,' : '';
        const message = `value ${value} acknowledged by op ${op.id} (${op.invoke.f})${delayed} is missing from key ${key}'s final list`;
        return [{ kind: 'lost-append', key, message, ops: [op.id] }];
      }
      if (outcome(op) === 'info' && readers.length) {
        const message = `value ${value} of op ${op.id} (${op.invoke.f}, info) was seen by ${describe(readers)} but is missing from key ${key}'s final list`;
        return [{ kind: 'lost-append', key, message, ops: opIds(op.id, ...readers.map((o) => o.op)) }];
      }
      return [];
    });
  });
}

/** duplicate-append: values are unique in the run, so no list may hold one twice. */
export function checkDuplicateAppends(history: IndexedHistory): Anomaly[] {
  const repeats = new Map<string, { key: string; value: number; seenBy: Observation[] }>();
  for (const observation of history.observations) {
    for (const value of repeatedValues(observation.list)) {
      const id = `${observation.key}\0${value}`;
      const entry = repeats.get(id) ?? { key: observation.key, value, seenBy: [] };
      entry.seenBy.push(observation);
      repeats.set(id, entry);
    }
  }
  return [...repeats.values()].map(({ key, value, seenBy }) => ({
    kind: 'duplicate-append',
    key,
    message: `value ${value} appears more than once in key ${key}'s list in ${describe(seenBy)}`,
    ops: opIds(...appenderIds(history, value), ...seenBy.map((o) => o.op)),
  }));
}

/** failed-append-visible: `fail` means the append certainly did not happen, so nobody may see it. */
export function checkFailedAppendsInvisible(history: IndexedHistory): Anomaly[] {
  const seen = sightings(history);
  return history.operations.filter(isAppend).flatMap((op) => {
    const { value } = op.invoke;
    if (outcome(op) !== 'fail' || value === undefined) return [];
    return appendedKeys(op).flatMap((key): Anomaly[] => {
      const seenBy = seen.get(key)?.get(value) ?? [];
      if (!seenBy.length) return [];
      const error = op.completion?.error;
      const why = error ? `${error.name}${error.outcome ? `, outcome ${error.outcome}` : ''}` : 'no error';
      const message = `value ${value} of op ${op.id} (${op.invoke.f}), which failed (${why}), is visible in key ${key}'s list in ${describe(seenBy)}`;
      return [{ kind: 'failed-append-visible', key, message, ops: opIds(op.id, ...seenBy.map((o) => o.op)) }];
    });
  });
}

/** phantom-value: a list may only hold values some operation tried to append to that very key. */
export function checkPhantomValues(history: IndexedHistory): Anomaly[] {
  return [...sightings(history)].flatMap(([key, values]) =>
    [...values].flatMap(([value, seenBy]): Anomaly[] => {
      const appenders = history.appendersOf.get(value) ?? [];
      if (appenders.some((op) => appendedKeys(op).includes(key))) return [];
      const elsewhere = appenders.map((op) => `op ${op.id} appended it to key ${appendedKeys(op).join(' and ')}`);
      const why = elsewhere.length ? ` (${elsewhere.join(', ')})` : '';
      const message = `value ${value} in ${describe(seenBy)} was never appended to key ${key}${why}`;
      return [
        { kind: 'phantom-value', key, message, ops: opIds(...seenBy.map((o) => o.op), ...appenderIds(history, value)) },
      ];
    }),
  );
}

/**
 * cross-count bounds. A count reads replicas with the session's token, which promises the session's own
 * writes and what it already saw, not other sessions' latest: so the count must include every key the
 * session itself created (acknowledged) or saw holding values before the count started (else
 * lost-append), and no key that no append could have created before it ended (else phantom-value;
 * appends that certainly failed created nothing).
 */
export function checkCrossCounts(history: IndexedHistory): Anomaly[] {
  // per key: when an append may first have created it
  const maybe = new Map<string, number>();
  for (const append of history.operations.filter(isAppend)) {
    if (outcome(append) === 'fail') continue;
    for (const key of appendedKeys(append)) maybe.set(key, Math.min(maybe.get(key) ?? Infinity, append.invokedAt));
  }
  const known = keysKnownBySession(history);
  return history.operations.flatMap((count): Anomaly[] => {
    const result = count.completion?.result;
    if (count.invoke.f !== 'cross-count' || outcome(count) !== 'ok' || typeof result !== 'number') return [];
    const asked = count.invoke.keys;
    const seen = (known.get(count.invoke.session) ?? []).filter(
      ({ key, at }) => at < count.invokedAt && (!asked || asked.includes(key)),
    );
    const lower = new Set(seen.map(({ key }) => key)).size;
    const possible = asked ?? [...maybe.keys()];
    const upper = possible.filter((key) => (maybe.get(key) ?? Infinity) < (count.completedAt ?? 0)).length;
    if (result < lower) {
      const message = `op ${count.id} (cross-count) counted ${result} keys, but the session had created or seen ${lower} of its keys before it started`;
      return [{ kind: 'lost-append', message, ops: [count.id] }];
    }
    if (result > upper) {
      const message = `op ${count.id} (cross-count) counted ${result} keys, but appends could have created at most ${upper} before it ended`;
      return [{ kind: 'phantom-value', message, ops: [count.id] }];
    }
    return [];
  });
}

/**
 * incompatible-order: a list only grows at its end, so every version anyone saw of one key is a
 * prefix of every longer one. Checking neighbours by length suffices (prefix is transitive).
 */
export function checkListOrder(history: IndexedHistory): Anomaly[] {
  return [...groupByKey(history.observations)].flatMap(([key, observations]) => {
    const versions = distinctVersions(observations).sort((a, b) => a.list.length - b.list.length);
    return versions.slice(1).flatMap((longer, i): Anomaly[] => {
      const shorter = versions[i];
      if (isPrefix(shorter.list, longer.list)) return [];
      const at = firstDifference(shorter.list, longer.list);
      const message =
        `key ${key}: ${shorter.source} saw ${formatList(shorter.list)} but ${longer.source} saw ${formatList(longer.list)}; ` +
        `neither extends the other (index ${at}: ${shorter.list[at]} vs ${longer.list[at]})`;
      return [{ kind: 'incompatible-order', key, message, ops: opIds(shorter.op, longer.op) }];
    });
  });
}

/**
 * read-your-writes: a read that carried the session's token, and every ok append-read, must hold
 * each value the session appended (ok) to that key before (an append-pair: to either of its keys);
 * an append-read also its own value. A read without a token promises nothing: it may be stale; nor
 * does a pair committed with a shard left to recovery (`delayed`): that shard shows it later.
 */
export function checkReadYourWrites(history: IndexedHistory): Anomaly[] {
  return [...bySession(history)].flatMap(([, ops]) =>
    ops.flatMap((read): Anomaly[] => {
      const seen = listRead(read);
      if (!seen) return [];
      const missing = writesReadMustSee(ops, read).filter((w) => !seen.list.includes(w.invoke.value ?? NaN));
      if (!missing.length) return [];
      const values = missing.map((w) => `${w.invoke.value} (op ${w.id})`).join(', ');
      const message = `op ${read.id} (${read.invoke.f}) of session ${read.invoke.session} read ${formatList(seen.list)} from key ${seen.key}, missing its own ${values}`;
      return [{ kind: 'read-your-writes', key: seen.key, message, ops: opIds(read.id, ...missing.map((w) => w.id)) }];
    }),
  );
}

/**
 * monotonic-reads: within one session, a read of a key never returns fewer values than an earlier
 * ok read of it (a different content of the same key is an incompatible-order, reported there).
 */
export function checkMonotonicReads(history: IndexedHistory): Anomaly[] {
  return [...bySession(history)].flatMap(([session, ops]) => {
    const longest = new Map<string, { op: Operation; list: readonly number[] }>();
    return ops.flatMap((op): Anomaly[] => {
      const seen = listRead(op);
      if (!seen) return [];
      const before = longest.get(seen.key);
      if (!before || seen.list.length > before.list.length) longest.set(seen.key, { op, list: seen.list });
      if (!before || seen.list.length >= before.list.length) return [];
      const message =
        `session ${session} read key ${seen.key} as ${formatList(before.list)} (op ${before.op.id}), ` +
        `then as ${formatList(seen.list)} (op ${op.id}): it went back`;
      return [{ kind: 'monotonic-reads', key: seen.key, message, ops: [before.op.id, op.id] }];
    });
  });
}

/** The ok appends of one session to the read's key completed before the read started (and its own). */
function writesReadMustSee(sessionOps: readonly Operation[], read: Operation): Operation[] {
  if (read.invoke.f === 'read' && read.invoke.token === undefined) return [];
  const earlier = sessionOps.filter(
    (w) =>
      isAppend(w) &&
      outcome(w) === 'ok' &&
      !isDelayed(w) &&
      read.invoke.key !== undefined &&
      appendedKeys(w).includes(read.invoke.key) &&
      (w.completedAt ?? Infinity) < read.invokedAt,
  );
  return read.invoke.f === 'append-read' ? [...earlier, read] : earlier;
}

/** The list an ok read / append-read returned, with its key. */
function listRead(op: Operation): { key: string; list: readonly number[] } | undefined {
  const { f, key } = op.invoke;
  const list = op.completion?.result;
  if (outcome(op) !== 'ok' || !readsOneList(f) || key === undefined || !Array.isArray(list)) return undefined;
  return { key, list };
}

/** Session → its operations, in invoke order. */
function bySession(history: IndexedHistory): Map<number, Operation[]> {
  const sessions = new Map<number, Operation[]>();
  for (const op of history.operations) {
    pushTo(sessions, op.invoke.session, op);
  }
  return sessions;
}

/** Key → value → the observations holding it (each observation once per value). */
function sightings(history: IndexedHistory): Sightings {
  const seen: Sightings = new Map();
  for (const observation of history.observations) {
    const values = seen.get(observation.key) ?? new Map<number, Observation[]>();
    for (const value of new Set(observation.list)) pushTo(values, value, observation);
    seen.set(observation.key, values);
  }
  return seen;
}

/** Appends `item` to the array `map` holds for `key` (in place: histories are long). */
function pushTo<K, V>(map: Map<K, V[]>, key: K, item: V): void {
  const items = map.get(key);
  if (items) items.push(item);
  else map.set(key, [item]);
}

/** Key → its observations. */
function groupByKey(observations: readonly Observation[]): Map<string, Observation[]> {
  const groups = new Map<string, Observation[]>();
  for (const o of observations) pushTo(groups, o.key, o);
  return groups;
}

/** One observation per distinct list content (its first observer). */
function distinctVersions(observations: readonly Observation[]): Observation[] {
  const versions = new Map<string, Observation>();
  for (const o of observations) if (!versions.has(o.list.join(','))) versions.set(o.list.join(','), o);
  return [...versions.values()];
}

/** Values a list holds more than once. */
function repeatedValues(list: readonly number[]): number[] {
  const seen = new Set<number>();
  const repeated = new Set<number>();
  for (const value of list) (seen.has(value) ? repeated : seen).add(value);
  return [...repeated];
}

/** The first index where two lists differ. */
function firstDifference(a: readonly number[], b: readonly number[]): number {
  const at = a.findIndex((value, i) => b[i] !== value);
  return at === -1 ? a.length : at;
}

/** Ids of the operations that appended `value`. */
function appenderIds(history: IndexedHistory, value: number): number[] {
  return (history.appendersOf.get(value) ?? []).map((op) => op.id);
}

/** Who saw something, for messages: `op 3 (read), final lists and 4 more`. */
function describe(observations: readonly Observation[], max = 4): string {
  const sources = [...new Set(observations.map((o) => o.source))];
  const shown = sources.slice(0, max).join(', ');
  return sources.length > max ? `${shown} and ${sources.length - max} more` : shown;
}

/**
 * Per session: each key it created (acknowledged append; not a pair committed with a shard left to
 * recovery, whose pending key may not exist yet) or saw holding values, and when (completion).
 */
function keysKnownBySession(history: IndexedHistory): Map<number, { key: string; at: number }[]> {
  const known = new Map<number, { key: string; at: number }[]>();
  const note = (op: Operation, key: string) => {
    const list = known.get(op.invoke.session) ?? [];
    list.push({ key, at: op.completedAt ?? Infinity });
    known.set(op.invoke.session, list);
  };
  for (const op of history.operations) {
    if (outcome(op) !== 'ok') continue;
    const result = op.completion?.result;
    if (isAppend(op)) {
      if (!isDelayed(op)) for (const key of appendedKeys(op)) note(op, key);
    } else if (op.invoke.f === 'read' && Array.isArray(result) && result.length) note(op, op.invoke.key!);
    else if (op.invoke.f === 'cross-find' && result && typeof result === 'object' && !Array.isArray(result)) {
      for (const [key, list] of Object.entries(result)) if (list.length) note(op, key);
    }
  }
  return known;
}
