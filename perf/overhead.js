// The edge's overhead: the same constant load, at the same time, through the edge and
// straight to one app task, from one vantage point (a container on the stack's network).
//   EDGE_URL  e.g. http://pl-local-edge:8080    DIRECT_URL  e.g. http://10.0.1.7:8000
import http from 'k6/http';
import { check } from 'k6';
import { Trend } from 'k6/metrics';
import { duration, guarded, pick, rate, summaryTrendStats, thresholds } from './lib/gate.js';

const viaEdge = new Trend('edge_duration', true);
const viaDirect = new Trend('direct_duration', true);

function scenario(exec) {
  return { executor: 'constant-arrival-rate', exec, rate, timeUnit: '1s', duration, preAllocatedVUs: 20, maxVUs: 100 };
}

export const options = {
  discardResponseBodies: true,
  scenarios: { edge: scenario('edge'), direct: scenario('direct') },
  thresholds,
  summaryTrendStats,
};

function hit(url, trend) {
  const res = http.get(url + pick(), { timeout: '10s' });
  trend.add(res.timings.duration);
  check(res, { 'status is 2xx': (r) => r.status >= 200 && r.status < 300 });
}

export const edge = guarded(() => hit(__ENV.EDGE_URL, viaEdge));
export const direct = guarded(() => hit(__ENV.DIRECT_URL, viaDirect));
