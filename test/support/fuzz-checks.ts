import { abbreviate, describeRequest, type FuzzRequest, type FuzzResponse } from './fuzz-http.js';

/**
 * Text that must never be in an answer (body or headers), lowercased. The generators never produce
 * these words (see `defang` in fuzz-arbitraries.ts), so an echo of the client's own input cannot match.
 */
export const LEAK_NEEDLES: readonly { what: string; needle: string }[] = [
  { what: 'node address', needle: 'postgresql://' },
  { what: 'node address', needle: 'postgres://' },
  { what: 'SQL text', needle: 'select ' },
  { what: 'SQL text', needle: 'insert into' },
  { what: 'SQL text', needle: 'update "' },
  { what: 'SQL text', needle: 'delete from' },
  { what: 'SQL text', needle: ' from "' },
  { what: 'PostgreSQL message', needle: 'syntax error at or near' },
  { what: 'PostgreSQL message', needle: 'invalid input syntax for' },
  { what: 'PostgreSQL message', needle: 'out of range for type' },
  { what: 'PostgreSQL message', needle: 'value too long for type' },
  { what: 'PostgreSQL message', needle: 'invalid byte sequence for encoding' },
  { what: 'PostgreSQL message', needle: 'current transaction is aborted' },
  { what: 'PostgreSQL message', needle: 'violates ' },
  { what: 'stack trace', needle: '    at ' },
];

/** A stack frame, also when an HTML error page turned its indentation into `&nbsp;`. */
const STACK_FRAME = /\bat (?:[^\s()]+ )?\(?(?:file:\/\/|node:|\/)[^\s()]*:\d+:\d+\)?|&nbsp;at /i;

/** What a run knows that no answer may show. */
export interface FuzzSecrets {
  /** The database passwords of the topology. */
  passwords: readonly string[];
  /** Folders of the server's files (an answer naming them shows a stack or a module path). */
  serverPaths: readonly string[];
}

export type ViolationKind =
  'server error' | '503 with every node up' | 'no answer' | 'leak' | 'node marked down' | 'stopped serving';

export interface Violation {
  kind: ViolationKind;
  /** What exactly: the leaked needle, the status, the down nodes. */
  detail: string;
  status: number;
  /** The start of the answer's body (or the failed normal request's). */
  excerpt: string;
  /** What the server logged as an error while it handled the request (the cause of a 500). */
  serverLog?: string;
}

/** The status and leak properties of one answer. `nodesDown` is the health report's down nodes at that time. */
export function checkAnswer(res: FuzzResponse, secrets: FuzzSecrets, nodesDown: readonly string[]): Violation[] {
  const found: Violation[] = [];
  const excerpt = abbreviate(res.text, 400);
  const add = (kind: ViolationKind, detail: string) => found.push({ kind, detail, status: res.status, excerpt });
  if (res.status === 0) add('no answer', res.error ?? 'no status');
  else if (res.status === 503 && nodesDown.length === 0) add('503 with every node up', '503');
  else if (res.status >= 500 && res.status !== 503) add('server error', String(res.status));

  const answer = `${res.text}\n${JSON.stringify(res.headers)}`;
  const lower = answer.toLowerCase();
  for (const { what, needle } of LEAK_NEEDLES) {
    if (lower.includes(needle))
      add('leak', `${what} ${JSON.stringify(needle)} ${context(answer, lower.indexOf(needle))}`);
  }
  const frame = STACK_FRAME.exec(answer);
  if (frame) add('leak', `stack trace ${JSON.stringify(frame[0])}`);
  for (const password of secrets.passwords) {
    if (password && answer.includes(password)) add('leak', 'database password');
  }
  for (const path of secrets.serverPaths) {
    if (path.length >= 5 && answer.includes(path)) add('leak', `server file path ${JSON.stringify(path)}`);
  }
  return found;
}

/** Text around a match, to show what leaked. */
function context(text: string, at: number): string {
  return JSON.stringify(text.slice(Math.max(0, at - 60), at + 100));
}

/** `PATCH /users/:id`: the route a request aimed at, for grouping failures. */
export function routeOf(req: FuzzRequest): string {
  const path = req.path.replace(/\/+$/, '') || '/';
  const id = '[^/]+';
  const routes: [RegExp, string][] = [
    [/^\/users$/, '/users'],
    [new RegExp(`^/users/${id}$`), '/users/:id'],
    [new RegExp(`^/users/${id}/orders$`), '/users/:id/orders'],
    [/^\/stats$/, '/stats'],
    [/^\/health$/, '/health'],
    [/^\/topology$/, '/topology'],
  ];
  const match = routes.find(([pattern]) => pattern.test(path));
  return `${req.method} ${match ? match[1] : '(other path)'}`;
}

/**
 * A key that groups violations of one cause: kind, status, route and the error's name and message
 * with numbers, quoted text and ids blanked.
 */
export function failureClass(req: FuzzRequest, violation: Violation): string {
  // the error's name and message, read from the start of the body (it may be cut)
  const field = (name: string) => new RegExp(`"${name}":"((?:[^"\\\\]|\\\\.)*)`).exec(violation.excerpt)?.[1];
  const [name, message] = [field('error'), field('message')];
  const reason =
    name === undefined && message === undefined ? violation.excerpt.slice(0, 60) : `${name ?? ''}: ${message ?? ''}`;
  // quoted client input, objects and numbers vary between requests of one cause
  const normalize = (text: string) =>
    text
      .replace(/[^\x20-\x7e]|\.\.\./g, '')
      .replace(/\\"(?:[^"\\]|\\[^"])*\\"/g, '…')
      .replace(/"(?:[^"\\]|\\.)*"/g, '…')
      .replace(/'[^']*'/g, '…')
      .replace(/\{[^}]*\}/g, '…')
      .replace(/-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi, '#')
      .slice(0, 140);
  const detail = violation.kind === 'leak' ? violation.detail.replace(/ ".*$/s, '') : normalize(violation.detail);
  const log = violation.serverLog ? ` | log: ${normalize(violation.serverLog).slice(0, 100)}` : '';
  return `${violation.kind} | ${detail} | ${routeOf(req)} | ${normalize(reason)}${log}`;
}

/** Violations grouped by class, with the first (shortest) request of each: the survey's report. */
export class FailureSurvey {
  private readonly classes = new Map<string, { count: number; request: FuzzRequest; violation: Violation }>();

  record(req: FuzzRequest, violations: readonly Violation[]): void {
    for (const violation of violations) {
      const key = failureClass(req, violation);
      const known = this.classes.get(key);
      if (!known) this.classes.set(key, { count: 1, request: req, violation });
      else {
        known.count++;
        if (describeRequest(req).length < describeRequest(known.request).length) {
          known.request = req;
          known.violation = violation;
        }
      }
    }
  }

  get size(): number {
    return this.classes.size;
  }

  report(): string {
    return [...this.classes.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([key, { count, request, violation }], i) =>
          `${i + 1}. ${key}  (${count}×)\n   request: ${describeRequest(request, 300)}\n   answer ${violation.status}: ${abbreviate(violation.excerpt, 300)}\n   detail: ${abbreviate(violation.detail, 300)}` +
          (violation.serverLog ? `\n   server log: ${abbreviate(violation.serverLog, 400)}` : ''),
      )
      .join('\n');
  }
}
