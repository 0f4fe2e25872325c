// Constant-arrival-rate load over HTTPS on a domain that only this machine resolves
// (vm-local): HOST=name, IP=address; the certificate is verified against the CA in
// SSL_CERT_FILE (pebble's root for vm-local). BASE_URL=https://name:port, RATE, DURATION.
import http from 'k6/http';
import { check } from 'k6';

const base = __ENV.BASE_URL;
const hosts = {};
hosts[__ENV.HOST] = __ENV.IP || '127.0.0.1';

export const options = {
  hosts: hosts,
  discardResponseBodies: true,
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 20),
      timeUnit: '1s',
      duration: __ENV.DURATION || '30s',
      preAllocatedVUs: 20,
      maxVUs: 100,
    },
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'],
};

export default function () {
  const res = http.get(base + '/version', { timeout: '10s' });
  check(res, { 'status is 200': (r) => r.status === 200 });
}
