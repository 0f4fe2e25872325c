// Load at a constant arrival rate through the edge: the perf gate's default script, and
// the background load while something changes (deploys, weight changes, chaos).
import { constantArrival, guarded, hit, pick } from './lib/gate.js';

export const options = constantArrival('load');

export default guarded(() => {
  hit(pick());
});
