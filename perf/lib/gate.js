// Shared by the perf scripts. Everything comes from the environment (the pipeline
// passes the env.yaml `perf` section):
//   BASE_URL    the edge, e.g. http://127.0.0.1:8080
//   PATHS       comma-separated paths, picked at random per request
//   RATE        requests/s (per track for compare.js); DURATION e.g. 20s
//   THRESHOLDS  JSON {metric: [expressions]}; default below
//   PIN_TOKEN   the environment's secret that lets a request pick its track (compare.js)
import http from 'k6/http';
import { check } from 'k6';
import { Rate, Trend } from 'k6/metrics';

export const base = __ENV.BASE_URL || 'http://127.0.0.1:8080';
export const paths = (__ENV.PATHS || '/api/notes?limit=5,/version').split(',');
export const rate = Number(__ENV.RATE || 30);
export const duration = __ENV.DURATION || '20s';

export const thresholds = __ENV.THRESHOLDS
  ? JSON.parse(__ENV.THRESHOLDS)
  : { http_req_failed: ['rate<0.01'], checks: ['rate>=0.99'] };

// `count` lets the gate tell a metric that was never emitted from one that passed
export const summaryTrendStats = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'];

// The options of a script that sends RATE iterations/s for DURATION (one named scenario).
export function constantArrival(name) {
  return {
    discardResponseBodies: true,
    scenarios: {
      [name]: {
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
}

// latency and failures by the track that served the request (the edge's X-Edge-Track)
const trackDuration = new Trend('track_duration', true);
const trackFailed = new Rate('track_failed');

// A request that did not answer 2xx, written to the log (one JSON line after "pl-failed "):
// when, what, the status or k6's error code, and the track that served it. BackgroundLoad
// keeps k6's log beside its summary, so a test or a bench can say which requests failed.
export function noteFailure(method, path, res) {
  if (res.status >= 200 && res.status < 300) {
    return;
  }
  const served = (res.headers && res.headers['X-Edge-Track']) || 'none';
  console.warn(`pl-failed ${JSON.stringify({
    t: Date.now() / 1000, method, path, status: res.status, error_code: res.error_code, error: res.error, track: served,
  })}`);
}

export function pick() {
  return paths[Math.floor(Math.random() * paths.length)];
}

// GET one path through the edge; `pin` (stable|canary|baseline) asks the edge for that track.
export function hit(path, pin) {
  const headers = {};
  if (pin) {
    headers['X-Pipeline-Track'] = pin;
    headers['X-Pipeline-Token'] = __ENV.PIN_TOKEN || '';
  }
  const res = http.get(base + path, { headers, timeout: '10s', tags: { pin: pin || 'none' } });
  const served = res.headers['X-Edge-Track'] || 'none';
  trackDuration.add(res.timings.duration, { track: served });
  trackFailed.add(res.status === 0 || res.status >= 500, { track: served });
  noteFailure('GET', path, res);
  check(res, { 'status is 2xx': (r) => r.status >= 200 && r.status < 300 });
  if (pin) {
    check(res, { 'served by the pinned track': () => served === pin });
  }
  return res;
}

// A request that is not measured (warm-up): no track metrics, no checks.
export function warm(path, pin) {
  const headers = { 'X-Pipeline-Track': pin, 'X-Pipeline-Token': __ENV.PIN_TOKEN || '' };
  return http.get(base + path, { headers, timeout: '10s', tags: { pin, phase: 'warmup' } });
}

// An exception in an iteration records a failed check, so the `checks` threshold fails
// the gate; it is rethrown so k6 logs its stack (the gate counts those too).
export function guarded(fn) {
  return function () {
    try {
      fn();
    } catch (e) {
      check(null, { 'no exception in the script': () => false });
      throw e;
    }
  };
}
