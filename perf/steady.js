// Constant-arrival-rate load on the edge, used while something changes (deploys,
// weight changes, chaos). Parameters come from the environment:
//   BASE_URL (default http://127.0.0.1:8080), RATE (requests/s, default 100),
//   DURATION (default 30s), PATHS (comma-separated, default /api/notes?limit=5,/version)
import http from 'k6/http';
import { check } from 'k6';

const base = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const paths = (__ENV.PATHS || '/api/notes?limit=5,/version').split(',');

export const options = {
  discardResponseBodies: true,
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 100),
      timeUnit: '1s',
      duration: __ENV.DURATION || '30s',
      preAllocatedVUs: Number(__ENV.VUS || 50),
      maxVUs: Number(__ENV.MAX_VUS || 200),
    },
  },
  thresholds: {
    http_req_failed: ['rate<=0'],
    checks: ['rate>=1'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'],
};

export default function () {
  const path = paths[Math.floor(Math.random() * paths.length)];
  const res = http.get(base + path, { timeout: '10s' });
  check(res, { 'status is 200': (r) => r.status === 200 });
}
