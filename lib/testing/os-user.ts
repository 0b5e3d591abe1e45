import { execFile } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PostgreSQL refuses to run as root; as root, the servers run as the `postgres` OS user. */
export const isRoot = (): boolean => userInfo().uid === 0;

let owner: Promise<{ uid: number; gid: number } | null> | undefined;

/**
 * uid/gid to run PostgreSQL as: null for a normal user (runs as itself); as root the `postgres`
 * OS user, created (system user, no home) when the machine has none.
 */
export function postgresOsUser(): Promise<{ uid: number; gid: number } | null> {
  owner ??= isRoot() ? findOrCreatePostgresUser() : Promise.resolve(null);
  return owner;
}

async function findOrCreatePostgresUser(): Promise<{ uid: number; gid: number }> {
  const lookup = async () => {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await lookup();
  } catch {
    await run('groupadd', ['--system', 'postgres']).catch(() => undefined); // may exist without the user
    await run('useradd', [
      '--system',
      '--gid',
      'postgres',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]);
    return lookup();
  }
}

/** Gives a file or folder to the `postgres` OS user when running as root; a no-op otherwise. */
export async function giveToPostgres(path: string): Promise<void> {
  const id = await postgresOsUser();
  if (id) await chown(path, id.uid, id.gid);
}

/** `cp -a`: copies a data folder keeping owners and modes, which PostgreSQL checks. */
export async function copyPreserving(from: string, to: string): Promise<void> {
  await run('cp', ['-a', from, to]);
}
