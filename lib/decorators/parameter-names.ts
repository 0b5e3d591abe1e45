/**
 * The declared parameter names of a function, read from its source (`null` for a destructured
 * parameter, which has no name). Skips comments and string contents (so `'http://x'` or a comma
 * in a default value do not confuse it) and nested brackets.
 */
export function parameterNames(fn: (...args: never[]) => unknown): (string | null)[] {
  const source = Function.prototype.toString.call(fn);
  return namesOf(parameterList(source, source.indexOf('(')).parts);
}

/**
 * Whether the function takes `(...args)` only: a wrapper another decorator put around the method
 * (MikroORM's `@Transactional()`, for one), whose own parameters say nothing of the method's.
 */
export function forwardsAllArguments(fn: (...args: never[]) => unknown): boolean {
  const source = Function.prototype.toString.call(fn);
  const { parts } = parameterList(source, source.indexOf('('));
  return parts.length === 1 && parts[0].trim().startsWith('...');
}

/**
 * The parameter names of a method as its class declares it, read from the class's source: what a
 * decorator below this one wrapped is still written there. Undefined when it cannot be found.
 */
export function declaredParameterNames(
  cls: abstract new (...args: never[]) => unknown,
  method: string | symbol,
): (string | null)[] | undefined {
  if (typeof method !== 'string') return undefined;
  const source = Function.prototype.toString.call(cls);
  const name = method.replace(/[$]/g, '\\$');
  // a definition starts a member (after `{`, `}`, `;` or a line break, maybe `async`/`*`), and its
  // parameter list is followed by the body: `this.find(x);` or `find(x).then(...)` are calls, not it
  const start = new RegExp(`(?:^|[\\s;{}])(?:async\\s+)?(?:\\*\\s*)?${name}\\s*\\(`, 'g');
  for (let match = start.exec(source); match; match = start.exec(source)) {
    const { parts, end } = parameterList(source, match.index + match[0].length - 1);
    if (/^\s*\{/.test(source.slice(end + 1))) return namesOf(parts);
  }
  return undefined;
}

/** The raw parameters of the list opening at `open`, and where it closes. */
function parameterList(source: string, open: number): { parts: string[]; end: number } {
  if (open < 0) return { parts: [], end: source.length };
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  let i = open + 1;
  for (; i < source.length; i++) {
    const char = source[i];
    if (char === '/' && (source[i + 1] === '/' || source[i + 1] === '*')) {
      const end = source[i + 1] === '/' ? source.indexOf('\n', i) : source.indexOf('*/', i + 2) + 1;
      i = end < 0 ? source.length : end;
      continue;
    }
    if (char === '"' || char === "'" || char === '`') {
      let j = i + 1;
      while (j < source.length && source[j] !== char) j += source[j] === '\\' ? 2 : 1;
      current += 'S'; // the string's content does not matter, only that something is there
      i = j;
      continue;
    }
    if ('([{'.includes(char)) depth++;
    else if (')]}'.includes(char)) {
      if (depth === 0) break;
      depth--;
    } else if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  if (current.trim()) parts.push(current);
  return { parts, end: i };
}

function namesOf(parts: readonly string[]): (string | null)[] {
  return parts.map((part) => {
    const text = part.trim().replace(/^\.\.\./, '');
    return /^[A-Za-z_$][\w$]*/.exec(text)?.[0] ?? null;
  });
}
