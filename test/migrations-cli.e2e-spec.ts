import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startEmbeddedTopology, type EmbeddedTopology } from '../lib/testing/index.js';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'dist', 'cli', 'main.js');

interface CliRun {
  code: number | null;
  output: string;
}

/** Runs the built CLI in a child process with pipes (not a TTY), as CI would. */
function cli(cwd: string, ...args: string[]): Promise<CliRun> {
  return new Promise((done, fail) => {
    const { NODE_OPTIONS: _ignored, ...env } = process.env;
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...env, CI: '' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

function build(): Promise<void> {
  return new Promise((done, fail) => {
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: REPO });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) =>
      code === 0 ? done() : fail(new Error(`tsc -p tsconfig.build.json failed:\n${output}`)),
    );
  });
}

/**
 * The CLI end to end (issue 12, part 7): the compiled `dist/cli/main.js` in a child process, a `.mjs`
 * config in a temporary folder, 2 embedded shards. Exit codes 0 / 1 / 2, plain output, no password.
 */
describe('migrations CLI (2 shards, real PostgreSQL, child process)', () => {
  let topology: EmbeddedTopology;
  let dir: string;
  let migrations: string;
  const outputs: string[] = [];
  const run = async (...args: string[]) => {
    const result = await cli(dir, ...args);
    outputs.push(result.output);
    return result;
  };
  const tableOn = async (shard: string, table: string) =>
    (await topology.server(shard).query(`select to_regclass($1) as name`, [table]))[0].name;

  beforeAll(async () => {
    [topology] = await Promise.all([startEmbeddedTopology({ shards: 2, replicasPerShard: 0 }), build()]);
    dir = await mkdtemp(join(tmpdir(), 'nmos-cli-e2e-'));
    migrations = join(dir, 'migrations');
    // the config and the generated migrations import @mikro-orm/* by name: resolve them from the repo
    await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await writeFile(
      join(dir, 'sharding.config.mjs'),
      `import { defineEntity, p } from '@mikro-orm/postgresql';
import { defineShardingConfig } from ${JSON.stringify(pathToFileURL(join(REPO, 'dist', 'index.js')).href)};

const CliItem = defineEntity({
  name: 'CliItem',
  tableName: 'cli_items',
  properties: { id: p.integer().primary().autoincrement(), title: p.string() },
});

export default defineShardingConfig({
  shards: ${JSON.stringify(topology.shards)},
  mikroOrm: { entities: [CliItem] },
  migrations: { path: ${JSON.stringify(migrations)}, emit: 'js' },
  health: { enabled: false },
});
`,
    );
  });

  afterAll(async () => {
    await topology?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    const password = topology.server('s0').connection.password!;
    for (const output of outputs.splice(0)) {
      expect(output).not.toContain(password);
      expect(output).not.toContain('\u001b['); // plain: no colours or cursor moves off a TTY
    }
  });

  it('usage errors exit 64', async () => {
    const unknown = await run('migration:sideways');
    expect(unknown.code).toBe(64);
    expect(unknown.output).toContain('Unknown command "migration:sideways"');
    const missing = await run('migration:list', '--config', 'nowhere.mjs');
    expect(missing.code).toBe(64);
    expect(missing.output).toContain('nowhere.mjs not found');
  });

  it('migration:create writes one migration file from the entities', async () => {
    const created = await run('migration:create', '--name', 'items');
    expect(created.output).toContain('Created Migration');
    expect(created.code).toBe(0);
    const files = await readdir(migrations);
    expect(files).toEqual([expect.stringMatching(/^Migration\d+_items\.js$/)]);
  });

  it('migration:up applies it on both shards (exit 0); migration:pending then shows none', async () => {
    const up = await run('migration:up');
    expect(up.code).toBe(0);
    expect(up.output).toMatch(/^\.\.\. s0 \(canary\): migration:up$/m);
    for (const shard of ['s0', 's1']) {
      expect(up.output).toMatch(
        new RegExp(`^${shard}\\s+${shard}/primary\\s+postgresql://\\S+\\s+Migration\\d+_items\\s+done$`, 'm'),
      );
      expect(await tableOn(shard, 'cli_items')).toBe('cli_items');
    }
    const pending = await run('migration:pending');
    expect(pending.code).toBe(0);
    expect(pending.output).toContain('No pending migrations on any shard.');
    const list = await run('migration:list');
    expect(list.code).toBe(0);
    expect(list.output).toMatch(/^s1 \(s1\/primary\):\n {2}Migration\d+_items$/m);
  });

  it('migration:check exits 0 when level, 2 naming the shard after a hand-made ALTER TABLE', async () => {
    const clean = await run('migration:check');
    expect(clean.output).toContain('No drift');
    expect(clean.code).toBe(0);

    await topology.server('s1').query('alter table cli_items add column extra text');
    const drift = await run('migration:check');
    expect(drift.code).toBe(2);
    expect(drift.output).toMatch(/^s1\s+s1\/primary\s+.*DRIFT$/m);
    expect(drift.output).toMatch(/^s0\s+s0\/primary\s+.*ok$/m);
    expect(drift.output).toContain('Drift on 1 shard(s): s1.');
    expect(drift.output).toContain('extra');
    await topology.server('s1').query('alter table cli_items drop column extra');
  });

  it('a migration failing on one shard exits 1 with the per-shard table; the other shard keeps it', async () => {
    await writeFile(
      join(migrations, 'Migration20990101000000_conflict.js'),
      `import { Migration } from '@mikro-orm/migrations';
export class Migration20990101000000_conflict extends Migration {
  up() { this.addSql('create table cli_conflict (id int primary key);'); }
  down() { this.addSql('drop table cli_conflict;'); }
}
`,
    );
    await topology.server('s1').query('create table cli_conflict (id int)');
    const failed = await run('migration:up');
    expect(failed.code).toBe(1);
    expect(failed.output).toMatch(/^s0\s+s0\/primary\s+\S+\s+Migration20990101000000_conflict\s+done$/m);
    expect(failed.output).toMatch(/^s1\s+s1\/primary\s+\S+\s+-\s+FAILED at Migration20990101000000_conflict$/m);
    expect(failed.output).toMatch(/s1 \(s1\/primary\): .*cli_conflict.*already exists/);
    expect(failed.output).toContain('migration:up failed on s1.');

    // fixed by hand: the next run applies it on s1 only
    await topology.server('s1').query('drop table cli_conflict');
    const resumed = await run('migration:up');
    expect(resumed.code).toBe(0);
    expect(resumed.output).toMatch(/^s0\s+s0\/primary\s+\S+\s+-\s+nothing to do$/m);
    expect(resumed.output).toMatch(/^s1\s+s1\/primary\s+\S+\s+Migration20990101000000_conflict\s+done$/m);
  });
});
