import type { SortTerm } from './sort-key.js';

type Filter = Record<string, unknown>;
const NEVER = Symbol('never');

/**
 * The MikroORM filter for "rows after `after` in this order": the row-comparison
 * `(k1, k2, ...) > (c1, c2, ...)` expanded into `$or` branches, honouring each term's direction
 * and NULL placement. A redundant range on the first term (`k1 >= c1`, or `<=` descending) lets
 * PostgreSQL start its index scan at the cursor instead of filtering every earlier row.
 */
export function keysetFilter(terms: readonly SortTerm[], after: readonly unknown[]): Filter {
  const branches: Filter[] = [];
  const equalSoFar: Filter[] = [];
  for (let i = 0; i < terms.length; i++) {
    const term = terms[i];
    const value = after[i];
    const beyond = strictlyAfter(term, value);
    if (beyond !== NEVER) branches.push(equalSoFar.length ? { $and: [...equalSoFar, beyond] } : beyond);
    equalSoFar.push({ [term.property]: value === null ? null : { $eq: value } });
  }
  const seek: Filter = branches.length ? { $or: branches } : { [terms[0].property]: NEVER_MATCHES };
  const [first] = terms;
  // every row after a non-NULL value has the first term on its side of it, unless NULLs come after
  if (after[0] !== null && (!first.nullable || first.nullsFirst)) {
    return { $and: [{ [first.property]: { [first.descending ? '$lte' : '$gte']: after[0] } }, seek] };
  }
  return seek;
}

/** `$in: []` matches nothing: the cursor was the last possible row. */
const NEVER_MATCHES = { $in: [] };

function strictlyAfter(term: SortTerm, value: unknown): Filter | typeof NEVER {
  const { property, descending, nullsFirst, nullable } = term;
  if (value === null) {
    // after NULL come the non-NULL values only when NULLs sort first
    return nullsFirst ? { [property]: { $ne: null } } : NEVER;
  }
  const greater = { [property]: { [descending ? '$lt' : '$gt']: value } };
  if (nullsFirst || !nullable) return greater;
  return { $or: [greater, { [property]: null }] };
}
