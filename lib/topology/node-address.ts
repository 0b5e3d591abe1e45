import type { NodeConnectionConfig } from './shard-config.js';

/** The parts of a node's address that identify it; never the password. */
export interface NodeAddress {
  host: string;
  port: number;
  user?: string;
  dbName: string;
}

const DEFAULT_PORT = 5432;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Reads host, port, user and database from a node config (URL or fields); null when the URL is unusable. */
export function nodeAddress(config: NodeConnectionConfig): NodeAddress | null {
  if ('clientUrl' in config) {
    let url: URL;
    try {
      url = new URL(config.clientUrl);
    } catch {
      return null;
    }
    if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') return null;
    return {
      host: decodeURIComponent(url.hostname),
      port: url.port ? Number(url.port) : DEFAULT_PORT,
      user: url.username ? decodeURIComponent(url.username) : undefined,
      dbName: decodeURIComponent(url.pathname.replace(/^\//, '')),
    };
  }
  return { host: config.host, port: config.port, user: config.user, dbName: config.dbName };
}

/** `postgresql://user@host:port/db`: safe for logs, errors and health output (no password). */
export function describeAddress(address: NodeAddress | null): string {
  if (!address) return 'postgresql://(unparseable URL)';
  const user = address.user ? `${encodeURIComponent(address.user)}@` : '';
  return `postgresql://${user}${address.host}:${address.port}/${address.dbName}`;
}

/** Two configs naming the same server and database compare equal (`localhost` = `127.0.0.1`). */
export function addressKey(address: NodeAddress): string {
  const host = LOOPBACK.has(address.host.toLowerCase()) ? 'loopback' : address.host.toLowerCase();
  return `${host}:${address.port}/${address.dbName}`;
}
