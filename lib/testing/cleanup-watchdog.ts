import { spawn } from 'node:child_process';

/**
 * Plain CommonJS run by a detached `node -e`: it outlives a crashed (even SIGKILLed) test process,
 * then shuts down every postmaster under the topology folder (immediate shutdown, SIGKILL after 10 s)
 * and removes the folder unless it is persistent. It exits on its own when the folder is gone.
 */
const WATCHDOG_SOURCE = `
const fs = require('node:fs');
const path = require('node:path');
const [parentPid, root, removeRoot] = process.argv.slice(1);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
const postmasters = () => {
  let dirs = [];
  try { dirs = fs.readdirSync(root); } catch { return []; }
  return dirs.flatMap((dir) => {
    try { return [Number(fs.readFileSync(path.join(root, dir, 'postmaster.pid'), 'utf8').split('\\n')[0])]; }
    catch { return []; }
  }).filter((pid) => pid > 0 && alive(pid));
};
const cleanUp = async () => {
  for (const pid of postmasters()) { try { process.kill(pid, 'SIGQUIT'); } catch {} }
  const deadline = Date.now() + 10000;
  while (postmasters().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of postmasters()) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  if (removeRoot === '1') fs.rmSync(root, { recursive: true, force: true });
  process.exit(0);
};
const timer = setInterval(() => {
  if (!fs.existsSync(root)) process.exit(0);
  if (alive(Number(parentPid))) return;
  clearInterval(timer);
  void cleanUp();
}, 250);
`;

/** Starts the watchdog for `root`; returns a function that dismisses it after a clean stop. */
export function startCleanupWatchdog(root: string, removeRoot: boolean): () => void {
  const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, String(process.pid), root, removeRoot ? '1' : '0'], {
    detached: true, // its own process group: a Ctrl-C or a killed test worker does not take it down
    stdio: 'ignore',
  });
  child.unref();
  return () => {
    try {
      child.kill('SIGTERM');
    } catch {
      // already gone
    }
  };
}
