import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** This process's `--experimental…` Node flags (a suite run in a child keeps them). */
export const experimentalFlags = (): string[] => process.execArgv.filter((flag) => flag.startsWith('--experimental'));

/**
 * Runs one suite of bench/run.ts (`--child suite`) in a fresh Node process with the given flags and
 * returns what it printed.
 */
export async function runSuiteInChild(suite: string, flags: readonly string[] = experimentalFlags()): Promise<string> {
  const script = fileURLToPath(new URL('./run.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [...flags, script, '--child', suite], {
    maxBuffer: 10 * 2 ** 20,
  });
  return stdout;
}
