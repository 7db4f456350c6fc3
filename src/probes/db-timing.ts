// The two timing series every database probe exports, whichever driver
// measured them: "slow to accept" and "slow to answer" look different.
import type { Observation } from './types.js';

export interface DbTiming {
  readonly connectSeconds: number;
  readonly querySeconds: number;
  readonly reachedQuery: boolean;
}

/** Connect and query durations; NaN for a phase the run never reached. */
export function dbTimingObservations(t: DbTiming): Observation[] {
  return [
    { name: 'db_connect_duration_seconds', value: t.connectSeconds },
    { name: 'db_query_duration_seconds', value: t.reachedQuery ? t.querySeconds : NaN },
  ];
}
