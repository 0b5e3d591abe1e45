import { runCli, type CliIo } from './run-cli.js';

function io(): CliIo & { text: () => string } {
  const lines: string[] = [];
  return {
    stdout: (line) => lines.push(line),
    stderr: (line) => lines.push(line),
    env: {},
    isTTY: false,
    cwd: '/nonexistent-folder',
    text: () => lines.join('\n'),
  };
}

describe('runCli (no database)', () => {
  it('--help prints the usage and exits 0', async () => {
    const out = io();
    expect(await runCli(['--help'], out)).toBe(0);
    expect(out.text()).toContain('Usage: nestjs-mikro-orm-sharding <command> [options]');
  });

  it('a usage error exits 64 with the reason and the usage', async () => {
    const out = io();
    expect(await runCli(['migration:up', '--name', 'x'], out)).toBe(64);
    expect(out.text()).toContain('migration:up does not take --name.');
    expect(out.text()).toContain('Exit codes: 0 done, 1 failed, 2 drift found');
  });

  it('no config file exits 64 saying where it looked', async () => {
    const out = io();
    expect(await runCli(['migration:list'], out)).toBe(64);
    expect(out.text()).toContain('No config file: pass --config <file>, or create sharding.config.js');
  });
});
