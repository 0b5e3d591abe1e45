import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import fc from 'fast-check';

export const FUZZ_METHODS = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'HEAD', 'OPTIONS'] as const;
export type FuzzMethod = (typeof FUZZ_METHODS)[number];

/** A request body exactly as it goes on the wire. */
export interface FuzzBody {
  /** `content-type` header; none when undefined. */
  contentType?: string;
  /** `content-encoding` header; none when undefined. */
  contentEncoding?: string;
  data: string | Buffer;
}

/**
 * One request of a hostile client, already encoded: `path` and `query` are sent byte for byte (the
 * generators percent-encode what Node's client refuses to send raw), header values may repeat.
 */
export class FuzzRequest {
  constructor(
    readonly method: FuzzMethod,
    readonly path: string,
    readonly query: string,
    readonly headers: readonly (readonly [string, string | readonly string[]])[] = [],
    readonly body?: FuzzBody,
    /** For people: what an opaque part holds (a cursor's decoded payload). */
    readonly note?: string,
  ) {}

  get target(): string {
    return this.query === '' ? this.path : `${this.path}?${this.query}`;
  }

  /** What fast-check prints for a counterexample: one line a person can replay with curl. */
  [fc.toStringMethod](): string {
    return describeRequest(this);
  }

  toString(): string {
    return describeRequest(this);
  }
}

/** `PATCH /users/1?x=1 [x-shard-consistency: c1.…] content-type: application/json body: {"name":123}` */
export function describeRequest(req: FuzzRequest, maxBody = 600): string {
  const parts = [`${req.method} ${abbreviate(req.target, 600)}`];
  for (const [name, value] of req.headers) {
    for (const v of typeof value === 'string' ? [value] : value) parts.push(`[${name}: ${abbreviate(v, 300)}]`);
  }
  if (req.body) {
    if (req.body.contentType !== undefined) parts.push(`[content-type: ${req.body.contentType}]`);
    if (req.body.contentEncoding !== undefined) parts.push(`[content-encoding: ${req.body.contentEncoding}]`);
    const data = req.body.data;
    parts.push(
      typeof data === 'string'
        ? `body(${data.length} chars): ${JSON.stringify(abbreviate(data, maxBody))}`
        : `body(${data.length} bytes): ${abbreviate(data.toString('hex'), maxBody)}`,
    );
  }
  if (req.note) parts.push(`(${abbreviate(req.note, 300)})`);
  return parts.join(' ');
}

/** The first `max` characters, and how many more there were. */
export function abbreviate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…(+${text.length - max})`;
}

export interface FuzzResponse {
  /** 0 when no HTTP answer came (connection reset, timeout): `error` says why. */
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  error?: string;
}

/**
 * Sends one request over a fresh connection with `node:http` (no keep-alive: a request the server
 * refuses at the parser cannot poison the next one). Never rejects: a missing answer is `status: 0`.
 */
export function sendFuzzRequest(baseUrl: string, req: FuzzRequest, timeoutMs = 10_000): Promise<FuzzResponse> {
  const base = new URL(baseUrl);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of req.headers) {
    const values = typeof value === 'string' ? [value] : [...value];
    const before = headers[name];
    headers[name] = before === undefined ? values : [...(typeof before === 'string' ? [before] : before), ...values];
  }
  let payload: Buffer | undefined;
  if (req.body) {
    payload = typeof req.body.data === 'string' ? Buffer.from(req.body.data, 'utf8') : req.body.data;
    if (req.body.contentType !== undefined) headers['content-type'] = req.body.contentType;
    if (req.body.contentEncoding !== undefined) headers['content-encoding'] = req.body.contentEncoding;
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (response: FuzzResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(response);
    };
    const outgoing = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: req.method,
        path: req.target,
        headers,
        agent: false,
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', (error) => finish({ status: 0, headers: {}, text: '', error: `response: ${error}` }));
        incoming.on('end', () =>
          finish({
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    const timer = setTimeout(() => {
      finish({ status: 0, headers: {}, text: '', error: `no answer within ${timeoutMs} ms` });
      outgoing.destroy();
    }, timeoutMs);
    // the server may answer (413, 400) and close before it has read the whole body: what it answered counts
    outgoing.on('error', (error) => {
      setTimeout(() => finish({ status: 0, headers: {}, text: '', error: `request: ${error}` }), 200);
    });
    outgoing.end(payload);
  });
}
