import { bootstrap } from './bootstrap.js';

// the local demo (bound to 127.0.0.1) shows the operator endpoints; OPERATOR_ENDPOINTS=0 leaves them out
// reads: 10 % to the primary (its cache stays warm), 90 % to the replicas (the tests use 0 % to prove routing)
const running = await bootstrap({ OPERATOR_ENDPOINTS: '1', ...process.env }, { readReplicas: { primaryShare: 0.1 } });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void running.close().then(() => process.exit(0));
  });
}
