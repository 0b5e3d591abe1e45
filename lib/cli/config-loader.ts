import { access } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ShardingModuleOptions } from '../module/sharding-options.interface.js';
import { CliUsageError } from './cli-usage.error.js';

/** Looked for, in this order, in the working folder when `--config` is not given. */
export const DEFAULT_CONFIG_FILES = ['sharding.config.js', 'sharding.config.mjs', 'sharding.config.ts'] as const;

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** The config file to load: `--config` (which must exist), else the first default file found. */
export async function findConfigFile(config: string | undefined, cwd = process.cwd()): Promise<string> {
  if (config !== undefined) {
    const file = resolve(cwd, config);
    if (!(await exists(file))) throw new CliUsageError(`Config file ${file} not found.`);
    return file;
  }
  for (const name of DEFAULT_CONFIG_FILES) {
    const file = resolve(cwd, name);
    if (await exists(file)) return file;
  }
  throw new CliUsageError(
    `No config file: pass --config <file>, or create ${DEFAULT_CONFIG_FILES.join(' or ')} in ${cwd} ` +
      'exporting defineShardingConfig({...}) as its default export.',
  );
}

/**
 * Imports a config file and returns its default export (an options object, a promise of one, or a
 * function returning either). A `.ts` file works only where Node strips types itself; elsewhere the
 * error says to use a `.js` / `.mjs` config.
 */
export async function loadConfig(file: string): Promise<ShardingModuleOptions> {
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    if (['.ts', '.mts', '.cts'].includes(extname(file))) {
      const code = (error as { code?: unknown }).code;
      const why =
        code === 'ERR_UNKNOWN_FILE_EXTENSION'
          ? `Node ${process.version} does not strip types (process.features.typescript is ${String(process.features.typescript ?? 'unset')})`
          : (error as Error).message;
      throw new CliUsageError(
        `Cannot import the TypeScript config ${file}: ${why}. Use a .js or .mjs config importing your compiled ` +
          'entities (Node strips types only from plain TypeScript: no decorators, enums or `.js` imports of `.ts` files).',
      );
    }
    throw error;
  }
  let options: unknown = loaded.default ?? loaded.config;
  if (typeof options === 'function') options = await (options as () => unknown)();
  options = await options;
  if (!options || typeof options !== 'object' || !('shards' in options)) {
    throw new CliUsageError(
      `${file} has no module options: its default export must be defineShardingConfig({ shards, mikroOrm, ... }).`,
    );
  }
  return options as ShardingModuleOptions;
}
