/** A sorted source the merge reads from: `next()` gives its following item, or undefined at its end. */
export interface SortedSource<T> {
  next(): T | undefined | Promise<T | undefined>;
}

/**
 * A binary min-heap of the sources' current heads: the merge holds one item per source, so its
 * own memory is O(sources) whatever the sources' lengths.
 */
class HeadHeap<T> {
  private readonly items: { item: T; source: number }[] = [];

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T, source: number): void {
    const items = this.items;
    items.push({ item, source });
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (this.before(items[parent], items[i])) break;
      [items[parent], items[i]] = [items[i], items[parent]];
      i = parent;
    }
  }

  pop(): { item: T; source: number } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length && last) {
      items[0] = last;
      for (let i = 0; ;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && !this.before(items[smallest], items[left])) smallest = left;
        if (right < items.length && !this.before(items[smallest], items[right])) smallest = right;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i], items[smallest]];
        i = smallest;
      }
    }
    return top;
  }

  /** Equal items keep source order, so the merge is stable. */
  private before(a: { item: T; source: number }, b: { item: T; source: number }): boolean {
    const order = this.compare(a.item, b.item);
    return order < 0 || (order === 0 && a.source < b.source);
  }
}

/**
 * Merges arrays that are each sorted by `compare` into one sorted array, skipping the first `skip`
 * items and stopping after `take` (all when undefined): only the needed prefix is ever visited.
 */
export function mergeSorted<T>(
  sources: readonly (readonly T[])[],
  compare: (a: T, b: T) => number,
  skip = 0,
  take = Infinity,
): T[] {
  const heap = new HeadHeap(compare);
  const positions = sources.map(() => 0);
  sources.forEach((source, i) => source.length && heap.push(source[0], i));
  const out: T[] = [];
  for (let index = 0; heap.size && out.length < take; index++) {
    const { item, source } = heap.pop()!;
    if (index >= skip) out.push(item);
    const position = ++positions[source];
    if (position < sources[source].length) heap.push(sources[source][position], source);
  }
  return out;
}

/** The async form: pulls from each source only when its head was taken (streaming exports). */
export async function* mergeSources<T>(
  sources: readonly SortedSource<T>[],
  compare: (a: T, b: T) => number,
): AsyncGenerator<T> {
  const heap = new HeadHeap(compare);
  const firsts = await Promise.all(sources.map((source) => source.next()));
  firsts.forEach((item, i) => item !== undefined && heap.push(item, i));
  while (heap.size) {
    const { item, source } = heap.pop()!;
    yield item;
    const next = await sources[source].next();
    if (next !== undefined) heap.push(next, source);
  }
}
