import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { EmbeddedTopologyError } from '../errors/embedded-topology.error.js';
import { giveToPostgres, postgresOsUser } from './os-user.js';
import { postgresBinaries } from './postgres-binaries.js';

/** Creates a new PostgreSQL data folder (a cluster) with one password-protected superuser. */
export async function initdb(dir: string, options: { user: string; password: string; fast: boolean }): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await giveToPostgres(dir);
  const pwfile = `${dir}.pw`;
  await writeFile(pwfile, `${options.password}\n`, { mode: 0o600 });
  await giveToPostgres(pwfile);
  try {
    const args = [
      `--pgdata=${dir}`,
      '--auth=scram-sha-256',
      `--username=${options.user}`,
      `--pwfile=${pwfile}`,
      '--encoding=UTF8',
      '--no-locale', // C collation: byte order, the same on every machine
      ...(options.fast ? ['--no-sync'] : []),
    ];
    const output = await runAs((await postgresBinaries()).initdb, args);
    if (output.code !== 0) {
      throw new EmbeddedTopologyError(
        `initdb failed in ${dir} (exit code ${output.code}):\n${output.text.slice(-4_000)}`,
      );
    }
  } finally {
    await rm(pwfile, { force: true });
  }
}

async function runAs(program: string, args: string[]): Promise<{ code: number | null; text: string }> {
  const owner = await postgresOsUser();
  return new Promise((resolve) => {
    const child = spawn(program, args, { ...(owner ?? {}), env: { ...process.env, LC_MESSAGES: 'C' } });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk));
    child.once('error', (error) => resolve({ code: -1, text: `could not run ${program}: ${error.message}` }));
    child.once('close', (code) => resolve({ code, text }));
  });
}
