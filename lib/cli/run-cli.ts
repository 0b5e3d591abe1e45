import type { ShardingMigrationsOptions } from '../schema/migration.types.js';
import { openCliApp, type CliApp } from './cli-app.js';
import { parseCliArgs, USAGE } from './cli-args.js';
import { EXIT, runCommand } from './cli-commands.js';
import { CliUsageError } from './cli-usage.error.js';
import { findConfigFile, loadConfig } from './config-loader.js';
import { redact, secretsOf } from './output-format.js';
import { chooseProgress } from './progress.js';

/** What the CLI writes to (the process's streams; a buffer in specs). */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  isTTY: boolean;
  cwd: string;
}

const processIo = (): CliIo => ({
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  isTTY: Boolean(process.stdout.isTTY),
  cwd: process.cwd(),
});

/** Parses, loads the config, boots the module, runs one command, closes; resolves the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let secrets: string[] = [];
  let app: CliApp | undefined;
  try {
    const args = parseCliArgs(argv);
    if (args.command === 'help') {
      io.stdout(USAGE);
      return EXIT.ok;
    }
    const options = await loadConfig(await findConfigFile(args.config, io.cwd));
    secrets = secretsOf(options.shards);
    app = await openCliApp(options, secrets);
    const migrations = (options as { migrations?: ShardingMigrationsOptions }).migrations ?? {};
    return await runCommand(
      { ...args, command: args.command },
      {
        migrator: app.migrator,
        shardNames: app.shardNames,
        addresses: app.addresses,
        migrationsPath: migrations.path,
        progress: chooseProgress(io.stdout, io.env, io.isTTY),
        out: (text) => io.stdout(redact(text, secrets)),
        secrets,
      },
    );
  } catch (error) {
    if (error instanceof CliUsageError) {
      io.stderr(`${redact(error.message, secrets)}\n\n${USAGE}`);
      return EXIT.usage;
    }
    io.stderr(`Failed: ${redact(describe(error), secrets)}`);
    return EXIT.failed;
  } finally {
    await app?.close().catch((error: unknown) => io.stderr(`Closing failed: ${redact(describe(error), secrets)}`));
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
}
