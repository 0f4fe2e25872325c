// The relative gate: constant load on the canary and its reference at the same time, each
// request pinned to its track with the environment's secret token. REFERENCE is the track
// the canary is judged against: `baseline` when the release runs one (stable's version,
// started with the canary: as young and as many tasks), else `stable`. REFERENCE_RATE and
// CANARY_RATE (default RATE each) let the pipeline give every task the same load when the
// tracks run different numbers of tasks. The pipeline compares the tracks' track_duration
// and track_failed afterwards.
import { duration, guarded, hit, pick, rate, summaryTrendStats, thresholds, warm } from './lib/gate.js';

const reference = __ENV.REFERENCE || 'stable';
if (reference !== 'stable' && reference !== 'baseline') {
  throw new Error(`REFERENCE must be stable or baseline, not ${reference}`);
}

// WARMUP seconds (default 3) of the same load come first and are not measured: a canary
// task that just started (cold caches, pool connections) is judged warm, like its reference.
const warmup = Number(__ENV.WARMUP || 3);

function scenario(exec, perTrack, start, length) {
  return {
    executor: 'constant-arrival-rate',
    exec,
    startTime: `${start}s`,
    rate: Number(perTrack || rate),
    timeUnit: '1s',
    duration: length,
    preAllocatedVUs: Number(__ENV.VUS || 30),
    maxVUs: Number(__ENV.MAX_VUS || 150),
  };
}

export const options = {
  discardResponseBodies: true,
  scenarios: {
    warm_reference: scenario('warmReference', __ENV.REFERENCE_RATE, 0, `${warmup}s`),
    warm_canary: scenario('warmCanary', __ENV.CANARY_RATE, 0, `${warmup}s`),
    reference: scenario('referenceTrack', __ENV.REFERENCE_RATE, warmup, duration),
    canary: scenario('canary', __ENV.CANARY_RATE, warmup, duration),
  },
  thresholds,
  summaryTrendStats,
};

export const warmReference = guarded(() => {
  warm(pick(), reference);
});

export const warmCanary = guarded(() => {
  warm(pick(), 'canary');
});

export const referenceTrack = guarded(() => {
  hit(pick(), reference);
});

export const canary = guarded(() => {
  hit(pick(), 'canary');
});
