import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { experimentalFlags, runSuiteInChild } from './child-suite.js';
import { replicasBench } from './replicas.bench.js';
import { crossShardBench } from './cross-shard.bench.js';
import { routingBench, routingCallsRun } from './routing.bench.js';
import { startupBench } from './startup.bench.js';

/**
 * `npm run bench [-- suite ...]`: runs the benchmarks and writes the results at the top of
 * BENCHMARKS.md (date, machine, command), keeping earlier runs below. `--child suite` prints one
 * suite's section (used to run a suite under other Node flags).
 */
const ACF = '--experimental-async-context-frame';
const suites: Record<string, () => Promise<string>> = {
  startup: startupBench,
  routing: () => routingBench(),
  // Node 22 implements AsyncLocalStorage with async_hooks unless this flag is given (Node 24: by default)
  'routing-acf': () => runSuiteInChild('routing', [ACF]),
  replicas: replicasBench,
  'cross-shard': () => crossShardBench(Number(process.env.CROSS_SHARD_BENCH_ROWS ?? 1_000_000)),
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
  if (suite !== 'routing') return suites[suite]();
  return routingBench(flags.length ? ` — node ${flags.join(' ')}` : '');
}

async function runAll(only: string[]): Promise<void> {
  const sections: string[] = [];
  for (const [name, run] of Object.entries(suites)) {
    if (only.length && !only.includes(name)) continue;
    console.log(`running ${name} ...`);
    sections.push(await run());
  }
  const header = [
    `## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `Node ${process.version}, ${process.platform}/${process.arch}. Shared and noisy: compare ratios within one run.`,
    '',
    `Command: \`npm run bench${only.length ? ` -- ${only.join(' ')}` : ''}\``,
    '',
  ].join('\n');
  const report = header + '\n' + sections.join('\n');
  console.log(report);
  const title = '# Benchmarks\n\nNewest run first. Produced by `npm run bench` (bench/run.ts).\n\n';
  const previous = await readFile('BENCHMARKS.md', 'utf8').then(
    (text) => text.replace(/^# Benchmarks\n[\s\S]*?(?=^## )/m, ''),
    () => '',
  );
  await writeFile('BENCHMARKS.md', title + report + '\n' + (previous.startsWith('## ') ? previous : ''));
}
