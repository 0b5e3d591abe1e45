/**
 * The declared parameter names of a function, read from its source (`null` for a destructured
 * parameter, which has no name). Skips comments and string contents (so `'http://x'` or a comma
 * in a default value do not confuse it) and nested brackets.
 */
export function parameterNames(fn: (...args: never[]) => unknown): (string | null)[] {
  const source = Function.prototype.toString.call(fn);
  const open = source.indexOf('(');
  if (open < 0) return [];
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = open + 1; i < source.length; i++) {
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
  return parts.map((part) => {
    const text = part.trim().replace(/^\.\.\./, '');
    return /^[A-Za-z_$][\w$]*/.exec(text)?.[0] ?? null;
  });
}
