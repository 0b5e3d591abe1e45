import { format } from 'prettier';
import {
  type BenchmarksFile,
  type BenchRun,
  historyRow,
  mergeRun,
  parseBenchmarksFile,
  renderBenchmarksFile,
  updateBenchmarksFile,
} from '../bench/benchmarks-file.js';

const ORDER = ['startup', 'routing', 'routing-acf', 'replicas', 'cross-shard'];
const AMD = '2 × AMD EPYC, 24 GiB, Node v22.23.5, linux/x64';

const startup = (ratio: string) =>
  [
    '### Start-up',
    '',
    '| what | median | runs |',
    '|---|---|---|',
    '| 12 × plain `MikroORM.init` | 23 ms | 7 |',
    '',
    `Module with 12 nodes / 12 plain inits: **${ratio}×** (medians, alternating runs on the same servers).`,
    '',
  ].join('\n');

const routing = (median: string, http: string, load = '1.96 before, 2.53 after') =>
  [
    '### Routing overhead (primary-key findOne on one replica, sequential)',
    '',
    `5 measurement processes. Load average (1 min) of this 2-core machine: ${load}.`,
    '',
    '| variant | median wall µs | wall ratio to plain MikroORM | mean CPU µs | CPU ratio |',
    '|---|---|---|---|---|',
    '| routed: service method with @ShardBy + @ReadReplica | 203.9 | 1.056 | 171.4 | 1.085 |',
    '| plain MikroORM: orm.em.fork().findOne | 193.0 | 1.000 | 157.9 | 1.000 |',
    '',
    `- Routed / plain MikroORM, median wall per process: 1.058, 1.062; median **${median}** (goal ≤ 1.05: missed).`,
    '',
    '### Sample-style app over HTTP (GET /accounts/:id → @ShardBy + @ReadReplica findOne)',
    '',
    '| variant | median req/s | ratio |',
    '|---|---|---|',
    '| with ShardingInterceptor (default) | 2716 | 1.000 |',
    `| without interceptor (\`interceptor: false\`: each call opens its own context) | 3404 | ${http} |`,
    '',
  ].join('\n');

const crossShard = (top20: string) =>
  [
    '### Cross-shard queries — 4 shards, 1,000,000 rows in all',
    '',
    '| query | median |',
    '|---|---|',
    '| cursor page 1,000 (after the cursor of page 999) | 2.26 ms |',
    '',
    `- Top-20 across shards / one database: **${top20}× (goal ≤ 1.5×: met)**`,
    '- Cursor page 1,000 / page 1: **1.50× (goal ≤ 1.5×: missed)**; OFFSET page 1,000 / page 1: 132.6×.',
    '',
  ].join('\n');

const fullRun: BenchRun = {
  date: '2026-11-23 04:27',
  machine: AMD,
  command: 'npm run bench',
  suites: [
    { suite: 'startup', markdown: startup('2.71') },
    { suite: 'routing', markdown: routing('1.063', '1.169') },
    { suite: 'cross-shard', markdown: crossShard('1.54') },
  ],
};
const crossShardRun: BenchRun = {
  date: '2026-11-23 04:39',
  machine: AMD,
  command: 'npm run bench -- cross-shard',
  suites: [{ suite: 'cross-shard', markdown: crossShard('1.04') }],
};
const routingRun: BenchRun = {
  date: '2026-11-30 07:18',
  machine: AMD,
  command: 'npm run bench -- routing',
  suites: [{ suite: 'routing', markdown: routing('1.058', '1.253') }],
};

/** Two runs merged into an empty file: the full run, then a cross-shard run. */
const existing = (): BenchmarksFile =>
  [fullRun, crossShardRun].reduce<BenchmarksFile>((file, run) => mergeRun(file, run, ORDER), {
    latest: [],
    history: [],
  });

const block = (file: BenchmarksFile, suite: string) => file.latest.find((b) => b.suite === suite);

describe('BENCHMARKS.md file', () => {
  it('merging a run replaces only its suites and adds one history row on top', () => {
    const before = existing();
    const after = mergeRun(before, routingRun, ORDER);

    expect(after.latest.map((b) => b.suite)).toEqual(['startup', 'routing', 'cross-shard']);
    expect(block(after, 'routing')).toEqual({
      suite: 'routing',
      date: '2026-11-30 07:18',
      machine: AMD,
      command: 'npm run bench -- routing',
      markdown: routing('1.058', '1.253').trim(),
    });
    // the other suites keep the latest results of the runs they came from
    expect(block(after, 'startup')).toEqual(block(before, 'startup'));
    expect(block(after, 'startup')?.date).toBe('2026-11-23 04:27');
    expect(block(after, 'cross-shard')).toEqual(block(before, 'cross-shard'));
    expect(block(after, 'cross-shard')?.date).toBe('2026-11-23 04:39');

    expect(after.history).toHaveLength(before.history.length + 1);
    expect(after.history.slice(1)).toEqual(before.history);
    expect(after.history[0]).toEqual(historyRow(routingRun));
  });

  it('does the same through the text of the file', () => {
    const before = renderBenchmarksFile(existing());
    const after = parseBenchmarksFile(updateBenchmarksFile(before, routingRun, ORDER));

    expect(after.history.map((row) => row.date)).toEqual(['2026-11-30 07:18', '2026-11-23 04:39', '2026-11-23 04:27']);
    expect(after.history.slice(1)).toEqual(parseBenchmarksFile(before).history);
    expect(after.latest.map((b) => [b.suite, b.date])).toEqual([
      ['startup', '2026-11-23 04:27'],
      ['routing', '2026-11-30 07:18'],
      ['cross-shard', '2026-11-23 04:39'],
    ]);
    expect(block(after, 'routing')?.markdown).toContain('median **1.058**');
    expect(block(after, 'startup')?.markdown).toBe(startup('2.71').trim());
  });

  it('orders latest blocks by the suites and keeps suites it does not know', () => {
    const file: BenchmarksFile = {
      latest: [{ suite: 'old-suite', date: '2026-01-01 00:00', machine: AMD, command: 'x', markdown: '### Old' }],
      history: [],
    };
    const merged = mergeRun(mergeRun(file, crossShardRun, ORDER), fullRun, ORDER);
    expect(merged.latest.map((b) => b.suite)).toEqual(['startup', 'routing', 'cross-shard', 'old-suite']);
  });

  it('round-trips its own output', () => {
    const file = mergeRun(existing(), routingRun, ORDER);
    const text = renderBenchmarksFile(file);
    expect(parseBenchmarksFile(text)).toEqual(file);
    expect(renderBenchmarksFile(parseBenchmarksFile(text))).toBe(text);
  });

  it('round-trips its output once Prettier has formatted it (as bench/run.ts writes it)', async () => {
    const file = mergeRun(existing(), routingRun, ORDER);
    const formatted = await format(renderBenchmarksFile(file), { parser: 'markdown', printWidth: 120 });
    const parsed = parseBenchmarksFile(formatted);
    expect(parsed.history).toEqual(file.history);
    expect(parsed.latest.map(({ markdown: _, ...info }) => info)).toEqual(
      file.latest.map(({ markdown: _, ...info }) => info),
    );
    // padded tables stay padded, and the formatted text is stable
    expect(await format(renderBenchmarksFile(parsed), { parser: 'markdown', printWidth: 120 })).toBe(formatted);
  });

  it('takes the headline numbers from the bold figures, with their goals, and the load average', () => {
    expect(historyRow(routingRun)).toEqual({
      date: '2026-11-30 07:18',
      command: 'npm run bench -- routing',
      machine: AMD,
      loadAverage: '1.96 before, 2.53 after',
      headlines:
        'routing: Routed / plain MikroORM **1.058** (≤ 1.05 missed), HTTP req/s without / with interceptor 1.253',
    });
    expect(historyRow(fullRun).headlines).toBe(
      'startup: Module with 12 nodes / 12 plain inits **2.71×**; ' +
        'routing: Routed / plain MikroORM **1.063** (≤ 1.05 missed), HTTP req/s without / with interceptor 1.169; ' +
        'cross-shard: Top-20 across shards / one database **1.54×** (≤ 1.5× met), ' +
        'Cursor page 1,000 / page 1 **1.50×** (≤ 1.5× missed)',
    );
  });

  it('reads a table figure for a section without a bold one, and shows what is missing as —', () => {
    const oldRouting = routing('x', '1.134')
      .replace(/^- Routed.*$/m, '')
      .replace(/ Load average.*$/m, '');
    const row = historyRow({ ...routingRun, suites: [{ suite: 'routing', markdown: oldRouting }] });
    expect(row.loadAverage).toBe('');
    expect(row.headlines).toBe('routing: Routed / plain MikroORM 1.056, HTTP req/s without / with interceptor 1.134');
    const text = renderBenchmarksFile({ latest: [], history: [row] });
    expect(text).toContain('| 2026-11-30 07:18 | `npm run bench -- routing` | ' + AMD + ' | — | routing:');
    expect(parseBenchmarksFile(text).history).toEqual([row]);
  });

  it('keeps a | inside a history cell', () => {
    const file: BenchmarksFile = {
      latest: [],
      history: [
        { date: '2026-01-01 00:00', command: 'npm run bench', machine: 'a | b', loadAverage: '', headlines: '' },
      ],
    };
    expect(parseBenchmarksFile(renderBenchmarksFile(file))).toEqual(file);
  });

  it('starts a new file from nothing', () => {
    const file = parseBenchmarksFile(updateBenchmarksFile('', crossShardRun, ORDER));
    expect(file.latest.map((b) => b.suite)).toEqual(['cross-shard']);
    expect(file.history).toEqual([historyRow(crossShardRun)]);
  });

  it('refuses a file it would lose runs of', () => {
    const legacy = '# Benchmarks\n\n## 2026-11-22 03:23 UTC\n\nCommand: `npm run bench`\n\n' + startup('0.72');
    expect(() => updateBenchmarksFile(legacy, routingRun, ORDER)).toThrow(/history/);
    const broken = renderBenchmarksFile(existing()).replace(
      /^\| 2026-11-23 04:39 \|.*$/m,
      '| 2026-11-23 04:39 | cut |',
    );
    expect(() => parseBenchmarksFile(broken)).toThrow(/2 cells/);
  });
});
