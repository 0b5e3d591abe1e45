import { parseCliArgs } from './cli-args.js';
import { CliUsageError } from './cli-usage.error.js';

const usageError = (argv: string[]) => {
  try {
    parseCliArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(CliUsageError);
    return (error as Error).message;
  }
  throw new Error(`parsed ${argv.join(' ')}`);
};

describe('parseCliArgs', () => {
  it('reads each command with its options', () => {
    expect(parseCliArgs(['migration:create', '--name', 'users', '--blank'])).toEqual({
      command: 'migration:create',
      name: 'users',
      blank: true,
    });
    expect(parseCliArgs(['migration:create', '-i', '-c', 'conf.mjs'])).toEqual({
      command: 'migration:create',
      initial: true,
      config: 'conf.mjs',
    });
    expect(parseCliArgs(['migration:up', '--to', 'Migration2'])).toEqual({ command: 'migration:up', to: 'Migration2' });
    expect(parseCliArgs(['migration:down', '--to=0'])).toEqual({ command: 'migration:down', to: 0 });
    expect(parseCliArgs(['migration:up', '--only', 'A, B', '--shards', 's1,s2'])).toEqual({
      command: 'migration:up',
      only: ['A', 'B'],
      shards: ['s1', 's2'],
    });
    for (const command of ['migration:list', 'migration:pending', 'migration:check']) {
      expect(parseCliArgs([command, '--config', 'x.js'])).toEqual({ command, config: 'x.js' });
    }
  });

  it('answers --help with or without a command', () => {
    expect(parseCliArgs(['--help'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['migration:up', '-h'])).toEqual({ command: 'help' });
  });

  it('refuses what it cannot use, saying what is wrong', () => {
    expect(usageError([])).toMatch(/No command given/);
    expect(usageError(['migrate'])).toMatch(/Unknown command "migrate"/);
    expect(usageError(['migration:up', 'extra'])).toMatch(/Unexpected argument "extra"/);
    expect(usageError(['migration:up', '--nme', 'x'])).toMatch(/nme/);
    expect(usageError(['migration:list', '--to', 'x'])).toBe('migration:list does not take --to.');
    expect(usageError(['migration:create', '--to', 'x', '--shards', 's0'])).toBe(
      'migration:create does not take --to, --shards.',
    );
    expect(usageError(['migration:up', '--to'])).toMatch(/--to/);
    expect(usageError(['migration:up', '--to', ' '])).toBe('--to needs a value.');
    expect(usageError(['migration:create', '--blank', '--initial'])).toMatch(/exclude each other/);
    expect(usageError(['migration:up', '--to', 'A', '--only', 'B'])).toMatch(/exclude each other/);
    expect(usageError(['migration:up', '--to', '0'])).toMatch(/migration:down only/);
  });
});
