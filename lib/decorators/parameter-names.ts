/**
 * The declared parameter names of a function, read from its source (`null` for a destructured
 * parameter, which has no name). Handles defaults, rest parameters, comments and nested brackets.
 */
export function parameterNames(fn: (...args: never[]) => unknown): (string | null)[] {
  const source = Function.prototype.toString.call(fn).replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
  const open = source.indexOf('(');
  if (open < 0) return [];
  const parts: string[] = [];
  let depth = 0;
  let quote = '';
  let current = '';
  for (let i = open + 1; i < source.length; i++) {
    const char = source[i];
    if (quote) {
      if (char === quote && source[i - 1] !== '\\') quote = '';
    } else if (char === '"' || char === "'" || char === '`') {
      quote = char;
    } else if ('([{'.includes(char)) {
      depth++;
    } else if (')]}'.includes(char)) {
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
