// Load at a constant arrival rate through the edge: the perf gate's default script, and
// the background load while something changes (deploys, weight changes, chaos).
import { duration, guarded, hit, pick, rate, summaryTrendStats, thresholds } from './lib/gate.js';

export const options = {
  discardResponseBodies: true,
  scenarios: {
    load: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration,
      preAllocatedVUs: Number(__ENV.VUS || 50),
      maxVUs: Number(__ENV.MAX_VUS || 200),
    },
  },
  thresholds,
  summaryTrendStats,
};

export default guarded(() => {
  hit(pick());
});
