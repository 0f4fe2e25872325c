// Smoke: one user requests every path a few times. Quick; catches a broken release.
import { guarded, hit, paths, summaryTrendStats, thresholds } from './lib/gate.js';

export const options = {
  vus: 1,
  iterations: paths.length * 3,
  thresholds,
  summaryTrendStats,
};

export default guarded(() => {
  hit(paths[__ITER % paths.length]);
});
