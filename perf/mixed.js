// Reads and writes at a constant arrival rate through the edge: the canary judge's bench load.
// WRITE_SHARE (0..1, default 0.2) of the iterations POST a note (a JSON object), the rest GET
// one of PATHS. Writes go through the same track split as reads.
import http from 'k6/http';
import { check } from 'k6';
import { base, constantArrival, guarded, hit, noteFailure, pick } from './lib/gate.js';

const writeShare = Number(__ENV.WRITE_SHARE || 0.2);

export const options = constantArrival('mixed');

export default guarded(() => {
  if (Math.random() < writeShare) {
    const body = JSON.stringify({ title: `bench ${__VU}-${__ITER}`, body: 'written by the judge bench' });
    const res = http.post(`${base}/api/notes`, body, { headers: { 'Content-Type': 'application/json' }, timeout: '10s' });
    noteFailure('POST', '/api/notes', res);
    check(res, { 'status is 2xx': (r) => r.status >= 200 && r.status < 300 });
    return;
  }
  hit(pick());
});
