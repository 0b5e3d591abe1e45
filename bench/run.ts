import { cpus, totalmem } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { startupBench } from './startup.bench.js';

/**
 * `npm run bench`: runs every benchmark and writes the results at the top of BENCHMARKS.md
 * (date, machine, command), keeping earlier runs below.
 */
const suites: [string, () => Promise<string>][] = [['startup', startupBench]];
const only = process.argv.slice(2);

const sections: string[] = [];
for (const [name, run] of suites) {
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
const report = header + sections.join('\n');
console.log(report);

const title = '# Benchmarks\n\nNewest run first. Produced by `npm run bench` (bench/run.ts).\n\n';
const previous = await readFile('BENCHMARKS.md', 'utf8').then(
  (text) => text.replace(/^# Benchmarks\n[\s\S]*?(?=^## )/m, ''),
  () => '',
);
await writeFile('BENCHMARKS.md', title + report + '\n' + (previous.startsWith('## ') ? previous : ''));
