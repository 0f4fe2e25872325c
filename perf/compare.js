// The relative gate: the same constant load on the stable and the canary track at the
// same time, each request pinned to its track with the environment's secret token.
// The pipeline compares the tracks' track_duration and track_failed afterwards.
import { duration, guarded, hit, pick, rate, summaryTrendStats, thresholds } from './lib/gate.js';

function scenario(exec) {
  return {
    executor: 'constant-arrival-rate',
    exec,
    rate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs: Number(__ENV.VUS || 30),
    maxVUs: Number(__ENV.MAX_VUS || 150),
  };
}

export const options = {
  discardResponseBodies: true,
  scenarios: { stable: scenario('stable'), canary: scenario('canary') },
  thresholds,
  summaryTrendStats,
};

export const stable = guarded(() => {
  hit(pick(), 'stable');
});

export const canary = guarded(() => {
  hit(pick(), 'canary');
});
