import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliUsageError } from './cli-usage.error.js';
import { findConfigFile, loadConfig } from './config-loader.js';

describe('findConfigFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nmos-cli-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('takes --config relative to the working folder, which must exist', async () => {
    await writeFile(join(dir, 'my.mjs'), 'export default {}');
    expect(await findConfigFile('my.mjs', dir)).toBe(join(dir, 'my.mjs'));
    await expect(findConfigFile('missing.mjs', dir)).rejects.toThrow(CliUsageError);
  });

  it('looks for sharding.config.js, then .mjs, then .ts', async () => {
    await expect(findConfigFile(undefined, dir)).rejects.toThrow(/No config file/);
    await writeFile(join(dir, 'sharding.config.ts'), '');
    expect(await findConfigFile(undefined, dir)).toBe(join(dir, 'sharding.config.ts'));
    await writeFile(join(dir, 'sharding.config.mjs'), '');
    expect(await findConfigFile(undefined, dir)).toBe(join(dir, 'sharding.config.mjs'));
    await writeFile(join(dir, 'sharding.config.js'), '');
    expect(await findConfigFile(undefined, dir)).toBe(join(dir, 'sharding.config.js'));
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nmos-cli-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('returns the default export: an options object, or a function resolving one', async () => {
    await writeFile(join(dir, 'a.mjs'), 'export default { shards: { s0: {} }, mikroOrm: {} };');
    expect(await loadConfig(join(dir, 'a.mjs'))).toEqual({ shards: { s0: {} }, mikroOrm: {} });
    await writeFile(join(dir, 'b.mjs'), 'export default async () => ({ shards: {}, mikroOrm: {} });');
    expect(await loadConfig(join(dir, 'b.mjs'))).toEqual({ shards: {}, mikroOrm: {} });
  });

  it('refuses a file without module options', async () => {
    await writeFile(join(dir, 'c.mjs'), 'export const other = 1;');
    await expect(loadConfig(join(dir, 'c.mjs'))).rejects.toThrow(/has no module options/);
  });
});
