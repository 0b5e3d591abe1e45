// Child process for the migrations spec: one more runner of `ShardingMigrator.up()`, straight from the
// TypeScript sources (ts-decorators-loader.mjs maps `.js` specifiers to `.ts` and compiles them).
// Reads { shards, migrations } from MIGRATE_OPTIONS, prints "ready", runs up() when stdin says "go",
// prints the results as JSON and exits.
import { register } from 'node:module';
import { createInterface } from 'node:readline';

register(new URL('./ts-decorators-loader.mjs', import.meta.url));
const { NodeRegistry } = await import('../../lib/topology/node-registry.ts');
const { ShardingMigrator } = await import('../../lib/schema/sharding-migrator.ts');
const { withMigrations } = await import('../../lib/schema/migration-config.ts');
const { Widget } = await import('./migration-entities.ts');

const { shards, migrations } = JSON.parse(process.env.MIGRATE_OPTIONS);
const registry = await NodeRegistry.create({ shards, mikroOrm: withMigrations({ entities: [Widget] }, migrations) });
const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) if (line.trim() === 'go') break;
let code = 0;
try {
  process.stdout.write(JSON.stringify({ results: await new ShardingMigrator(registry, migrations).up() }) + '\n');
} catch (error) {
  process.stdout.write(JSON.stringify({ error: error.message, results: error.results }) + '\n');
  code = 1;
}
lines.close();
await registry.close();
process.exit(code);
