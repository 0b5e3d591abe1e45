// Child process for the crash test: starts a 1×1 topology straight from the TypeScript sources
// (ts-decorators-loader.mjs maps our `.js` import specifiers to `.ts` and compiles them),
// prints where it lives, then waits to be killed.
import { register } from 'node:module';

register(new URL('./ts-decorators-loader.mjs', import.meta.url));
const { startEmbeddedTopology } = await import('../../lib/testing/embedded-topology.ts');
const topology = await startEmbeddedTopology({ shards: 1, replicasPerShard: 1 });
process.stdout.write(JSON.stringify({ dataDir: topology.dataDir, pids: topology.servers.map((s) => s.pid) }) + '\n');
setInterval(() => undefined, 60_000);
