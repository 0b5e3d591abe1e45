/**
 * BENCHMARKS.md as data: the latest sections of each suite and a one-line-per-run history. Pure
 * functions (no I/O): bench/run.ts reads the file, merges a run into it and writes it back.
 *
 * Layout of the file (the HTML comments are the markers the next run finds its blocks by):
 *
 * ```md
 * # Benchmarks
 * (intro)
 * ## Latest results
 * <!-- suite:routing -->
 * Suite `routing`, from the run of 2026-11-30 07:18 UTC (`npm run bench -- routing`) on (machine).
 * ### (the suite's sections, as it printed them)
 * <!-- /suite:routing -->
 * ## History
 * <!-- history -->
 * | date (UTC) | command | machine | load average (1 min) | headline numbers |
 * <!-- /history -->
 * ```
 */

/** When, where and how a run was made. */
export interface RunInfo {
  /** `YYYY-MM-DD HH:MM`, UTC. */
  date: string;
  /** e.g. `2 × AMD EPYC, 24 GiB, Node v22.23.5, linux/x64`. */
  machine: string;
  /** e.g. `npm run bench -- routing` (no backticks). */
  command: string;
}

/** What one suite printed in one run: one or more `### ` sections. */
export interface SuiteOutput {
  /** Key of the suite in bench/run.ts (`startup`, `routing`, `routing-acf`, ...). */
  suite: string;
  markdown: string;
}

/** One `npm run bench` run: its suites in the order they ran. */
export interface BenchRun extends RunInfo {
  suites: SuiteOutput[];
}

/** A suite's sections from the newest run that included it, with that run's date, machine and command. */
export interface LatestSuite extends RunInfo {
  suite: string;
  markdown: string;
}

/** One line of the history table. Empty strings are shown as `—`. */
export interface HistoryRow {
  date: string;
  command: string;
  machine: string;
  loadAverage: string;
  /** Markdown: the run's headline numbers, per suite. */
  headlines: string;
}

/** The content of BENCHMARKS.md: everything else (title, intro, headings) is generated. */
export interface BenchmarksFile {
  latest: LatestSuite[];
  /** Newest first. */
  history: HistoryRow[];
}

/**
 * A number read from a table when a section has no bold number: the cell of the first row matching `row`
 * (tested on the row's cells joined by ` | `) in the first column whose header matches `column`.
 */
export interface TableHeadline {
  /** Matched against the section title (the `### ` heading without the hashes). */
  section: RegExp;
  row: RegExp;
  column: RegExp;
  label: string;
}

/** Table numbers worth a place in the history, for the sections that print no bold number. */
export const TABLE_HEADLINES: readonly TableHeadline[] = [
  // the routing section of runs before the bold per-process median
  { section: /^Routing overhead/, row: /^routed/, column: /ratio/, label: 'Routed / plain MikroORM' },
  {
    section: /^Sample-style app over HTTP/,
    row: /^without interceptor/,
    column: /^ratio$/,
    label: 'HTTP req/s without / with interceptor',
  },
  { section: /^Read replicas: read throughput/, row: /^2 \|/, column: /^ratio/, label: 'reads/s 2 replicas / 0' },
  {
    section: /^Read replicas: the extra round trip/,
    row: /^ours, `readYourWrites: true`/,
    column: /^difference$/,
    label: '`readYourWrites` cost per write',
  },
];

export const TITLE = '# Benchmarks';

export const INTRO = [
  'Produced by `npm run bench [-- suite ...]` (bench/run.ts; suites: startup, routing, routing-acf, http, http-acf, replicas, ' +
    'cross-shard, migrations, transactions). **Latest results** holds, for each suite, its sections from the newest run that ' +
    'included it, with that run’s date, machine and command; **History** has one line per run, newest first, with ' +
    'its headline numbers. The machines are shared and noisy: compare ratios within one run rather than across runs.',
  '',
  'The file is rewritten by each run (bench/benchmarks-file.ts): the `<!-- ... -->` markers delimit the blocks it ' +
    'replaces, so keep them, and keep every history row.',
].join('\n');

const HISTORY_HEADER = ['date (UTC)', 'command', 'machine', 'load average (1 min)', 'headline numbers'];
const HISTORY_START = '<!-- history -->';
const HISTORY_END = '<!-- /history -->';
const SUITE_BLOCK = /<!-- suite:([\w-]+) -->\n([\s\S]*?)\n?<!-- \/suite:\1 -->/g;
const RUN_LINE = /^Suite `[^`]*`, from the run of (\d{4}-\d\d-\d\d \d\d:\d\d) UTC \(`([^`]*)`\) on (.*)\.$/;
const EMPTY = '—';

/**
 * Reads BENCHMARKS.md. Empty text gives an empty file; text without the history markers throws (it is not
 * in this format, and rewriting it would lose its runs), and so does a history row that cannot be read.
 */
export function parseBenchmarksFile(text: string): BenchmarksFile {
  if (!text.trim()) return { latest: [], history: [] };
  const start = text.indexOf(HISTORY_START);
  const end = text.indexOf(HISTORY_END, start);
  if (start < 0 || end < 0) {
    throw new Error(`BENCHMARKS.md has no ${HISTORY_START} … ${HISTORY_END} block: not written by bench/run.ts`);
  }
  const latest = [...text.slice(0, start).matchAll(SUITE_BLOCK)].map(([, suite, body]) => parseSuiteBlock(suite, body));
  // every table row but the header
  const rows = tables(text.slice(start + HISTORY_START.length, end)).flatMap((table) => table.slice(1));
  const history = rows.map((cells): HistoryRow => {
    if (cells.length !== HISTORY_HEADER.length) {
      throw new Error(`BENCHMARKS.md: history row with ${cells.length} cells, not ${HISTORY_HEADER.length}: ${cells}`);
    }
    const [date, command, machine, loadAverage, headlines] = cells.map((cell) => (cell === EMPTY ? '' : cell));
    return { date, command: command.replace(/^`(.*)`$/, '$1'), machine, loadAverage, headlines };
  });
  return { latest, history };
}

function parseSuiteBlock(suite: string, body: string): LatestSuite {
  const lines = body.trim().split('\n');
  const run = RUN_LINE.exec(lines[0] ?? '');
  if (!run) return { suite, date: '', command: '', machine: '', markdown: lines.join('\n').trim() };
  const [, date, command, machine] = run;
  return { suite, date, command, machine, markdown: lines.slice(1).join('\n').trim() };
}

/**
 * The file with `run` merged in: each suite of the run replaces that suite's latest block (the other suites
 * keep theirs), and one history row for the run goes on top of the others. Latest blocks are ordered by
 * `suiteOrder`; suites it does not name keep their place after those.
 */
export function mergeRun(file: BenchmarksFile, run: BenchRun, suiteOrder: readonly string[] = []): BenchmarksFile {
  const fresh = run.suites.map(({ suite, markdown }): LatestSuite => ({
    suite,
    date: run.date,
    machine: run.machine,
    command: run.command,
    markdown: markdown.trim(),
  }));
  const replaced = new Set(fresh.map((block) => block.suite));
  const latest = [...file.latest.filter((block) => !replaced.has(block.suite)), ...fresh];
  const rank = (suite: string) => {
    const i = suiteOrder.indexOf(suite);
    return i < 0 ? suiteOrder.length : i;
  };
  // Array.prototype.sort is stable: unnamed suites keep their order
  latest.sort((a, b) => rank(a.suite) - rank(b.suite));
  return { latest, history: [historyRow(run), ...file.history] };
}

/** The whole BENCHMARKS.md for `file` (not yet formatted by Prettier: tables are not padded). */
export function renderBenchmarksFile(file: BenchmarksFile): string {
  const blocks = file.latest.map((block) =>
    [
      `<!-- suite:${block.suite} -->`,
      '',
      ...(block.date
        ? [
            `Suite \`${block.suite}\`, from the run of ${block.date} UTC (\`${block.command}\`) on ${block.machine}.`,
            '',
          ]
        : []),
      block.markdown,
      '',
      `<!-- /suite:${block.suite} -->`,
    ].join('\n'),
  );
  const row = (cells: string[]) => `| ${cells.map((cell) => escapeCell(cell || EMPTY)).join(' | ')} |`;
  const history = [
    row(HISTORY_HEADER),
    `|${HISTORY_HEADER.map(() => ' --- ').join('|')}|`,
    ...file.history.map((r) => row([r.date, r.command && `\`${r.command}\``, r.machine, r.loadAverage, r.headlines])),
  ];
  return [
    TITLE,
    '',
    INTRO,
    '',
    '## Latest results',
    '',
    ...(blocks.length ? blocks.join('\n\n') : 'No run yet.').split('\n'),
    '',
    '## History',
    '',
    'One line per run, newest first. Headline numbers (ratios unless a unit is given): the bold ones are the bold ' +
      'figures of the suites’ sections, the others are read from the tables of sections that print none.',
    '',
    HISTORY_START,
    '',
    ...history,
    '',
    HISTORY_END,
    '',
  ].join('\n');
}

/** The history row of a run: date, command, machine, the first load average its sections state, headline numbers. */
export function historyRow(run: BenchRun): HistoryRow {
  const all = run.suites.map((s) => s.markdown).join('\n');
  const headlines = run.suites
    .map(({ suite, markdown }) => ({
      suite,
      items: sections(markdown).flatMap((section) => sectionHeadlines(section)),
    }))
    .filter(({ items }) => items.length)
    .map(({ suite, items }) => `${suite}: ${items.join(', ')}`)
    .join('; ');
  return { date: run.date, command: run.command, machine: run.machine, loadAverage: loadAverage(all), headlines };
}

/** `Load average (1 min) …: 1.96 before, 2.53 after.` → `1.96 before, 2.53 after`; `''` when not stated. */
export function loadAverage(markdown: string): string {
  return /Load average[^:\n]*:\s*(.+?)\.(?:\s|$)/.exec(markdown)?.[1] ?? '';
}

/** A suite's markdown cut into its `### ` sections: title (without the hashes) and text. */
export function sections(markdown: string): { title: string; text: string }[] {
  return markdown
    .split(/^(?=### )/m)
    .filter((part) => part.startsWith('### '))
    .map((part) => ({ title: part.split('\n', 1)[0].slice(4).trim(), text: part }));
}

/**
 * The headline numbers of one section: each bold number outside tables, as `label **value** (goal)`, the label
 * being the start of its line up to the first `: ` and `, `; the goal of `(goal ≤ 1.05: met)` is kept as
 * `(≤ 1.05 met)`. A section without any bold number gives its {@link TABLE_HEADLINES} figures instead.
 */
export function sectionHeadlines(
  { title, text }: { title: string; text: string },
  picks: readonly TableHeadline[] = TABLE_HEADLINES,
): string[] {
  const items: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('|')) continue;
    let from = 0;
    for (const match of line.matchAll(/\*\*(.+?)\*\*/g)) {
      const before = line.slice(from, match.index);
      from = match.index + match[0].length;
      if (!/\d/.test(match[1])) continue;
      let value = match[1].trim();
      let goal = /^(.*?)\s*\(goal\s+(.+?):\s*(\w+)\)$/.exec(value);
      if (goal) value = goal[1];
      else goal = /^()\s*\(goal\s+(.+?):\s*(\w+)\)/.exec(line.slice(from));
      items.push(
        [headlineLabel(before), `**${value}**`, goal ? `(${goal[2]} ${goal[3]})` : ''].filter(Boolean).join(' '),
      );
    }
  }
  if (items.length) return items;
  return picks.flatMap((pick) => {
    if (!pick.section.test(title)) return [];
    const value = tableCell(text, pick.row, pick.column);
    return value === undefined ? [] : [`${pick.label} ${value}`];
  });
}

function headlineLabel(before: string): string {
  let text = before.replace(/^\s*[-*+]\s+/, '').trim();
  const colon = text.indexOf(': ');
  if (colon >= 0) text = text.slice(0, colon);
  const comma = text.indexOf(', ');
  if (comma >= 0) text = text.slice(0, comma);
  return text.replace(/[\s,;:]+$/, '');
}

/** The cell of the first row matching `row` in the first column whose header matches `column`, in any table of `text`. */
function tableCell(text: string, row: RegExp, column: RegExp): string | undefined {
  for (const table of tables(text)) {
    const col = table[0].findIndex((header) => column.test(header));
    if (col < 0) continue;
    const found = table.slice(1).find((cells) => row.test(cells.join(' | ')));
    if (found?.[col]) return found[col];
  }
  return undefined;
}

/** The tables of `text`, each as rows of cells (header first, separator row left out). */
function tables(text: string): string[][][] {
  const result: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim().startsWith('|')) {
      current = undefined;
      continue;
    }
    if (!current) result.push((current = []));
    const cells = splitRow(line);
    if (!cells.every((cell) => /^:?-+:?$/.test(cell))) current.push(cells);
  }
  return result;
}

/** `| a | b \| c |` → `['a', 'b | c']` */
function splitRow(line: string): string[] {
  const inner = line
    .trim()
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '');
  return inner.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

function escapeCell(cell: string): string {
  return cell.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/**
 * BENCHMARKS.md after a run: `previous` (the file's text, `''` when there is none) with `run` merged in.
 * Throws, rather than drop runs, when `previous` is not in this format.
 */
export function updateBenchmarksFile(previous: string, run: BenchRun, suiteOrder: readonly string[] = []): string {
  return renderBenchmarksFile(mergeRun(parseBenchmarksFile(previous), run, suiteOrder));
}
