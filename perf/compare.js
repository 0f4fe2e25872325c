// The relative gate: constant load on the stable and the canary track at the same time,
// each request pinned to its track with the environment's secret token. STABLE_RATE and
// CANARY_RATE (default RATE each) let the pipeline give every task the same load when the
// tracks run different numbers of tasks. The pipeline compares the tracks' track_duration
// and track_failed afterwards.
import { duration, guarded, hit, pick, rate, summaryTrendStats, thresholds } from './lib/gate.js';

function scenario(exec, perTrack) {
  return {
    executor: 'constant-arrival-rate',
    exec,
    rate: Number(perTrack || rate),
    timeUnit: '1s',
    duration,
    preAllocatedVUs: Number(__ENV.VUS || 30),
    maxVUs: Number(__ENV.MAX_VUS || 150),
  };
}

export const options = {
  discardResponseBodies: true,
  scenarios: { stable: scenario('stable', __ENV.STABLE_RATE), canary: scenario('canary', __ENV.CANARY_RATE) },
  thresholds,
  summaryTrendStats,
};

export const stable = guarded(() => {
  hit(pick(), 'stable');
});

export const canary = guarded(() => {
  hit(pick(), 'canary');
});
