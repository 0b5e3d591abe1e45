// Child process for the crash test: starts a 1×1 topology straight from the TypeScript sources
// (run with --experimental-transform-types; the hook maps our `.js` import specifiers to `.ts`),
// prints where it lives, then waits to be killed.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`export async function resolve(specifier, context, next) {
      try { return await next(specifier, context); }
      catch (error) { if (specifier.startsWith('.') && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context); throw error; }
    }`),
);
const { startEmbeddedTopology } = await import('../../lib/testing/embedded-topology.ts');
const topology = await startEmbeddedTopology({ shards: 1, replicasPerShard: 1 });
process.stdout.write(JSON.stringify({ dataDir: topology.dataDir, pids: topology.servers.map((s) => s.pid) }) + '\n');
setInterval(() => undefined, 60_000);
