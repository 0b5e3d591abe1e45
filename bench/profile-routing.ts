// Ad-hoc profiling helper (not part of npm run bench): node --cpu-prof .build/bench/bench/profile-routing.js
import { routingProfile } from './routing.bench.js';
await routingProfile(process.argv[2] ?? 'routed');
