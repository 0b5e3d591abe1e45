import { bootstrap } from './bootstrap.js';

const running = await bootstrap();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void running.close().then(() => process.exit(0));
  });
}
