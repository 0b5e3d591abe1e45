// Module hooks for child processes that run the TypeScript sources directly (Node's own type stripping
// cannot: the library uses legacy decorators with metadata). `resolve` maps a relative `./x.js` to
// `./x.ts` when only the .ts exists; `load` compiles our `.ts` files with @swc/core, with the options
// jest.config.js gives @swc/jest. Register it with `register(new URL('./ts-decorators-loader.mjs', import.meta.url))`.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transformSync } from '@swc/core';
import jestConfig from '../../jest.config.js';

/** The options jest.config.js gives @swc/jest: one definition of how our TypeScript compiles. */
const SWC_OPTIONS = jestConfig.transform['^.+\\.ts$'][1];

export async function resolve(specifier, context, next) {
  if ((specifier.startsWith('./') || specifier.startsWith('../')) && specifier.endsWith('.js') && context.parentURL) {
    const js = new URL(specifier, context.parentURL);
    if (js.protocol === 'file:' && !existsSync(fileURLToPath(js))) {
      const ts = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
      if (existsSync(fileURLToPath(ts))) return next(ts.href, context);
    }
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.startsWith('file:') && url.endsWith('.ts') && !url.includes('/node_modules/')) {
    const filename = fileURLToPath(url);
    const { code } = transformSync(await readFile(filename, 'utf8'), { ...SWC_OPTIONS, filename });
    return { format: 'module', source: code, shortCircuit: true };
  }
  return next(url, context);
}
