import { parseArgs } from 'node:util';
import { CliUsageError } from './cli-usage.error.js';

/** The commands, named as MikroORM's CLI names them. */
export const CLI_COMMANDS = [
  'migration:create',
  'migration:up',
  'migration:down',
  'migration:list',
  'migration:pending',
  'migration:check',
] as const;
export type CliCommand = (typeof CLI_COMMANDS)[number];

/** A parsed command line. */
export interface CliArgs {
  command: CliCommand | 'help';
  /** `--config <file>`; unset: `sharding.config.js`, then `.mjs`, then `.ts` in the working folder. */
  config?: string;
  /** `migration:create --name <name>`. */
  name?: string;
  /** `migration:create --blank`: an empty migration. */
  blank?: boolean;
  /** `migration:create --initial`: the whole schema, for a database created before migrations. */
  initial?: boolean;
  /** `migration:up|down --to <name>` (`--to 0` with `down`: revert everything). */
  to?: string | 0;
  /** `migration:up|down --only <a,b>`: exactly these migrations. */
  only?: string[];
  /** `migration:up|down --shards <s0,s1>`: only these shards. */
  shards?: string[];
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  name: { type: 'string', short: 'n' },
  blank: { type: 'boolean', short: 'b' },
  initial: { type: 'boolean', short: 'i' },
  to: { type: 'string', short: 't' },
  only: { type: 'string', short: 'o' },
  shards: { type: 'string', short: 's' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;
const COMMON: OptionName[] = ['config', 'help'];
const ALLOWED: Record<CliCommand, OptionName[]> = {
  'migration:create': [...COMMON, 'name', 'blank', 'initial'],
  'migration:up': [...COMMON, 'to', 'only', 'shards'],
  'migration:down': [...COMMON, 'to', 'only', 'shards'],
  'migration:list': COMMON,
  'migration:pending': COMMON,
  'migration:check': COMMON,
};

export const USAGE = `Usage: nestjs-mikro-orm-sharding <command> [options]

Commands (one migration set, applied on every shard's acting primary):
  migration:create [--name <name>] [--blank] [--initial]
                                   diff the entities against the canary shard, write one migration file
  migration:up [--to <name>] [--only <a,b>] [--shards <s0,s1>]
                                   apply pending migrations: the canary shard first, then the others
  migration:down [--to <name>|0] [--only <a,b>] [--shards <s0,s1>]
                                   revert the last migration (or down to <name>; 0: all) on every shard
  migration:list                   executed migrations per shard
  migration:pending                pending migrations per shard
  migration:check                  drift: pending or unknown migrations, schema diff, catalog differences

Options:
  -c, --config <file>  module options (default export of defineShardingConfig({...}));
                       default: sharding.config.js, then sharding.config.mjs, then sharding.config.ts
  -h, --help           this text

Exit codes: 0 done, 1 failed, 2 drift found (migration:check), 64 usage error.`;

const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((part) => part.trim())
    .filter(Boolean);

/** Reads `argv` (without `node` and the script); a command line it cannot use throws `CliUsageError`. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0) {
    if (values.help) return { command: 'help' };
    throw new CliUsageError(`No command given: one of ${CLI_COMMANDS.join(', ')}.`);
  }
  const [command, ...extra] = positionals;
  if (!(CLI_COMMANDS as readonly string[]).includes(command)) {
    throw new CliUsageError(`Unknown command "${command}": use one of ${CLI_COMMANDS.join(', ')}.`);
  }
  if (extra.length) throw new CliUsageError(`Unexpected argument "${extra[0]}" after ${command}.`);
  if (values.help) return { command: 'help' };
  const known = command as CliCommand;
  const refused = (Object.keys(values) as OptionName[]).filter((option) => !ALLOWED[known].includes(option));
  if (refused.length) {
    throw new CliUsageError(`${known} does not take ${refused.map((option) => `--${option}`).join(', ')}.`);
  }
  for (const option of ['config', 'name', 'to', 'only', 'shards'] as const) {
    if (values[option] !== undefined && values[option].trim() === '') {
      throw new CliUsageError(`--${option} needs a value.`);
    }
  }
  if (values.blank && values.initial) throw new CliUsageError('--blank and --initial exclude each other.');
  if (values.to === '0' && command !== 'migration:down') {
    throw new CliUsageError('--to 0 (revert everything) is for migration:down only.');
  }
  if (values.to !== undefined && values.only !== undefined) {
    throw new CliUsageError('--to and --only exclude each other.');
  }
  const args: CliArgs = { command: known };
  if (values.config !== undefined) args.config = values.config;
  if (values.name !== undefined) args.name = values.name;
  if (values.blank) args.blank = true;
  if (values.initial) args.initial = true;
  if (values.to !== undefined) args.to = values.to === '0' ? 0 : values.to;
  if (values.only !== undefined) args.only = list(values.only);
  if (values.shards !== undefined) args.shards = list(values.shards);
  return args;
}
