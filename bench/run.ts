import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { format, resolveConfig } from 'prettier';
import { type BenchRun, type SuiteOutput, updateBenchmarksFile } from './benchmarks-file.js';
import { experimentalFlags, runSuiteInChild } from './child-suite.js';
import { transactionsBench } from './transactions.bench.js';
import { replicasBench } from './replicas.bench.js';
import { crossShardBench } from './cross-shard.bench.js';
import { migrationsBench } from './migrations.bench.js';
import { httpSection, routingBench, routingCallsRun } from './routing.bench.js';
import { startupBench } from './startup.bench.js';

/**
 * `npm run bench [-- suite ...]`: runs the benchmarks (all, or the suites named) and updates BENCHMARKS.md
 * (see bench/benchmarks-file.ts): the suites run replace their "Latest results" blocks, the others keep
 * theirs, and the run gets one line on top of the history table. `--child suite` prints one suite's
 * section (used to run a suite under other Node flags).
 */
const FILE = 'BENCHMARKS.md';
const ACF = '--experimental-async-context-frame';
const suites: Record<string, () => Promise<string>> = {
  startup: startupBench,
  routing: () => routingBench(),
  // Node 22 implements AsyncLocalStorage with async_hooks unless this flag is given (Node 24: by default)
  'routing-acf': () => runSuiteInChild('routing', [ACF]),
  // the HTTP part of `routing` alone: the context mounts side by side
  http: () => httpSection(),
  // the same under AsyncLocalStorage on AsyncContextFrame (Node 24's default): what a request-wide context costs there
  'http-acf': () => runSuiteInChild('http', [ACF]),
  replicas: replicasBench,
  'cross-shard': () => crossShardBench(Number(process.env.CROSS_SHARD_BENCH_ROWS ?? 1_000_000)),
  migrations: migrationsBench,
  transactions: transactionsBench,
};

const args = process.argv.slice(2);
if (args[0] === '--child') {
  const flags = experimentalFlags();
  // routing-calls: one measurement process of the routing suite (JSON on stdout)
  const output = args[1] === 'routing-calls' ? await routingCallsRun() : await routingBenchLabelled(args[1], flags);
  process.stdout.write(output + '\n');
} else {
  await runAll(args);
}

async function routingBenchLabelled(suite: string, flags: string[]): Promise<string> {
  const label = flags.length ? ` — node ${flags.join(' ')}` : '';
  if (suite === 'routing') return routingBench(label);
  if (suite === 'http') return httpSection(label);
  return suites[suite]();
}

async function runAll(only: string[]): Promise<void> {
  const outputs: SuiteOutput[] = [];
  for (const [name, run] of Object.entries(suites)) {
    if (only.length && !only.includes(name)) continue;
    console.log(`running ${name} ...`);
    outputs.push({ suite: name, markdown: await run() });
  }
  if (!outputs.length)
    throw new Error(`no suite named ${only.join(', ')}: the suites are ${Object.keys(suites).join(', ')}`);
  const run: BenchRun = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    machine:
      `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `Node ${process.version}, ${process.platform}/${process.arch}`,
    command: `npm run bench${only.length ? ` -- ${only.join(' ')}` : ''}`,
    suites: outputs,
  };
  console.log(
    [
      `## ${run.date} UTC`,
      `Machine: ${run.machine}.`,
      `Command: \`${run.command}\``,
      ...outputs.map((o) => o.markdown),
    ].join('\n\n'),
  );
  const previous = await readFile(FILE, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  // throws, keeping the file as it is, when it is not in the expected format (the report is printed above)
  const text = updateBenchmarksFile(previous, run, Object.keys(suites));
  // formatted as `npm run lint` expects (tables padded)
  await writeFile(FILE, await format(text, { ...(await resolveConfig(FILE)), filepath: FILE }));
}
