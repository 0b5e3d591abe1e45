import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runChaos } from './run-chaos.js';

/**
 * `npm run chaos -- [--seed n] [--duration s] [--sessions n] [--history file]`: one fault run on an
 * embedded 2 shards × 2 replicas topology. Prints the faults as they happen, then the checker's
 * report and the command that replays the seed. Exit code: 0 clean, 1 anomalies or findings,
 * 2 bad arguments or a broken run, 130 interrupted (Ctrl-C; a second Ctrl-C exits at once, the
 * topology's watchdog then stops the servers).
 */
const USAGE = 'usage: npm run chaos -- [--seed n] [--duration seconds] [--sessions n] [--history file]';

function parse(): { seed: number; durationSeconds: number; sessions: number; historyPath: string } {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      duration: { type: 'string', default: '60' },
      sessions: { type: 'string', default: '16' },
      history: { type: 'string' },
    },
  });
  const whole = (text: string, name: string, min: number) => {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return value;
  };
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : whole(values.seed, 'seed', 0);
  return {
    seed,
    durationSeconds: whole(values.duration, 'duration', 1),
    sessions: whole(values.sessions, 'sessions', 1),
    historyPath: values.history ?? join(tmpdir(), `chaos-history-${seed}-${process.pid}.jsonl`),
  };
}

let options: ReturnType<typeof parse>;
try {
  options = parse();
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}

const interrupt = new AbortController();
process.once('SIGINT', () => {
  console.error('interrupted: healing and stopping the servers (Ctrl-C again to exit at once)');
  interrupt.abort();
  process.once('SIGINT', () => process.exit(130));
});

const started = Date.now();
console.log(`seed ${options.seed}, ${options.durationSeconds} s, ${options.sessions} sessions`);
console.log(`history: ${options.historyPath}`);
try {
  const result = await runChaos({
    ...options,
    signal: interrupt.signal,
    onProgress: (line) => console.log(line),
  });
  console.log(`\n${result.output}`);
  console.log(`history: ${options.historyPath} (${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
  if (result.interrupted) process.exit(130);
  process.exit(result.report!.anomalies.length || result.findings.length ? 1 : 0);
} catch (error) {
  console.error('the run broke:', error);
  process.exit(2);
}
