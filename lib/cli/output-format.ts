import type { DriftReport, ShardMigrationResult, ShardMigrationStatus } from '../schema/migration.types.js';

/** Node id → its address without password (`postgresql://user@host:port/db`). */
export type NodeAddresses = ReadonlyMap<string, string>;

/** Plain aligned columns, a rule under the header; no colours (safe for logs and pipes). */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** `a, b (+3)`: the first names of a list, and how many more. */
export function names(list: readonly string[], shown = 2): string {
  if (list.length === 0) return '-';
  const rest = list.length - shown;
  return rest > 0 ? `${list.slice(0, shown).join(', ')} (+${rest})` : list.join(', ');
}

const address = (addresses: NodeAddresses, node: string) => addresses.get(node) ?? '-';

/** One row per shard of an `up()` / `down()` run, then each failed shard's message. */
export function formatResults(
  results: readonly ShardMigrationResult[],
  addresses: NodeAddresses,
  verb: 'applied' | 'reverted',
): string {
  const status = (result: ShardMigrationResult) => {
    if (result.failed) return `FAILED${result.failed.migration ? ` at ${result.failed.migration}` : ''}`;
    if (result.skipped) return 'skipped (canary failed)';
    if (result.replicasBehind) return 'done; replicas behind';
    return result.applied.length ? 'done' : 'nothing to do';
  };
  const table = renderTable(
    ['shard', 'node', 'address', verb, 'status'],
    results.map((result) => [
      result.shard,
      result.node,
      address(addresses, result.node),
      names(result.applied),
      status(result),
    ]),
  );
  const failures = results
    .filter((result) => result.failed)
    .map(({ shard, node, failed }) => `${shard} (${node}): ${failed!.message}`);
  return failures.length ? `${table}\n\n${failures.join('\n')}` : table;
}

/** One row per shard: what it executed and what is pending (`migration:list` / `migration:pending`). */
export function formatStatus(statuses: readonly ShardMigrationStatus[], addresses: NodeAddresses): string {
  return renderTable(
    ['shard', 'node', 'address', 'executed', 'last executed', 'pending', 'status'],
    statuses.map((status) => [
      status.shard,
      status.node,
      address(addresses, status.node),
      String(status.executed.length),
      status.executed.at(-1) ?? '-',
      names(status.pending),
      status.pending.length ? `${status.pending.length} pending` : 'up to date',
    ]),
  );
}

/** Per shard, the names of one list (executed or pending), oldest first. */
export function formatNames(
  statuses: readonly ShardMigrationStatus[],
  which: 'executed' | 'pending',
  shardsInOrder = statuses.map((status) => status.shard),
): string {
  return shardsInOrder
    .map((shard) => statuses.find((status) => status.shard === shard)!)
    .map((status) => {
      const list = status[which];
      const body = list.length ? list.map((name) => `  ${name}`).join('\n') : `  (no ${which} migrations)`;
      return `${status.shard} (${status.node}):\n${body}`;
    })
    .join('\n');
}

/** `check()`: one row per shard, then what drifted on each shard that is not ok. */
export function formatDrift(report: DriftReport, addresses: NodeAddresses): string {
  const drifted = (shard: DriftReport['shards'][number]) =>
    shard.pending.length + shard.unknownExecuted.length + shard.schemaDiff.length + shard.catalogDifferences.length > 0;
  const table = renderTable(
    ['shard', 'node', 'address', 'pending', 'unknown executed', 'schema diff', 'catalog', 'status'],
    report.shards.map((shard) => [
      shard.shard,
      shard.node,
      address(addresses, shard.node),
      String(shard.pending.length),
      String(shard.unknownExecuted.length),
      shard.schemaDiff.length ? `${shard.schemaDiff.length} statement(s)` : '-',
      shard.catalogDifferences.length ? `${shard.catalogDifferences.length} difference(s)` : 'like the others',
      drifted(shard) ? 'DRIFT' : 'ok',
    ]),
  );
  const details = report.shards.filter(drifted).map((shard) => {
    const lines = [`${shard.shard} (${shard.node}) drifted:`];
    const section = (title: string, items: readonly string[]) => {
      if (items.length) lines.push(`  ${title}:`, ...items.map((item) => `    ${item}`));
    };
    section('pending migrations', shard.pending);
    section('executed but not in the migration files', shard.unknownExecuted);
    section('SQL the schema generator would still run', shard.schemaDiff);
    section('catalog differs from the other shards', shard.catalogDifferences);
    return lines.join('\n');
  });
  const verdict = report.ok
    ? 'No drift: every shard has run every migration and matches the entities and the other shards.'
    : `Drift on ${report.shards.filter(drifted).length} shard(s): ${report.shards
        .filter(drifted)
        .map((shard) => shard.shard)
        .join(', ')}.`;
  return [table, ...details, verdict].join('\n\n');
}

/**
 * Removes passwords from text: `scheme://user:password@` becomes `scheme://user@`, and every known
 * secret (the configured passwords) becomes `***`.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi, '$1@');
  for (const secret of secrets) if (secret.length >= 3) out = out.split(secret).join('***');
  return out;
}

/** The passwords a topology config holds (fields and URLs), for {@link redact}. */
export function secretsOf(shards: Record<string, { primary: object; replicas?: readonly object[] }>): string[] {
  const secrets = new Set<string>();
  for (const { primary, replicas } of Object.values(shards)) {
    for (const node of [primary, ...(replicas ?? [])] as { password?: unknown; clientUrl?: unknown }[]) {
      if (typeof node.password === 'string' && node.password) secrets.add(node.password);
      if (typeof node.clientUrl === 'string') {
        try {
          const { password } = new URL(node.clientUrl);
          if (password) secrets.add(password).add(decodeURIComponent(password));
        } catch {
          // an unparseable URL: the pattern in redact() still strips `:password@`
        }
      }
    }
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}
