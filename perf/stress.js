// A short stress ramp: from RATE to 3 x RATE requests/s and back, over DURATION.
import { duration, guarded, hit, pick, rate, summaryTrendStats, thresholds } from './lib/gate.js';

const seconds = parseInt(duration, 10) || 20;
const third = `${Math.max(1, Math.round(seconds / 3))}s`;

export const options = {
  discardResponseBodies: true,
  scenarios: {
    stress: {
      executor: 'ramping-arrival-rate',
      startRate: rate,
      timeUnit: '1s',
      preAllocatedVUs: Number(__ENV.VUS || 50),
      maxVUs: Number(__ENV.MAX_VUS || 300),
      stages: [
        { target: rate * 3, duration: third },
        { target: rate * 3, duration: third },
        { target: rate, duration: third },
      ],
    },
  },
  thresholds,
  summaryTrendStats,
};

export default guarded(() => {
  hit(pick());
});
