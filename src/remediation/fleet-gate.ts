// What the acting path needs from a fleet (src/fleet implements it; the agent
// hands it to the runner by composition, the way actions receive failover):
// one call after a decision says act and before the action's precheck, which
// either refuses with a reason or hands back the slot the action runs under.
import type { FleetSpec } from './fleet-rule.js';

/** A fleet slot this agent holds for one action. */
export interface FleetHold {
  /** e.g. "slot 0 of fleet web"; for the decision's detail. */
  readonly detail: string;
  /** Still certainly held (its lease renewed within the TTL): asked right before execute. */
  valid(): boolean;
  /** Gives the slot back after `afterMs` (the rule's grace once the action ran; 0 when it did not). */
  release(afterMs: number): void;
}

export type FleetAnswer =
  /** `hold` is undefined when nothing was taken: a dry run, or acting alone without etcd (`fleet_unavailable: act_alone`). */
  | { readonly ok: true; readonly hold: FleetHold | undefined; readonly detail: string }
  | { readonly ok: false; readonly reason: 'fleet_busy' | 'shared_cause' | 'lock_unavailable'; readonly detail: string };

export interface FleetRequest {
  readonly rule: string;
  readonly action: string;
  readonly fleet: FleetSpec;
  /** The probe whose failure triggered the rule: the shared cause is judged on it. */
  readonly probe: string;
  /** In dry-run the fleet is read and judged, but no slot is taken. */
  readonly dryRun: boolean;
  /** Aborted when the agent stops (ends the settle wait). */
  readonly signal: AbortSignal;
}

export interface FleetGate {
  /** Never throws: etcd trouble is an answer (lock_unavailable, or ok alone with act_alone). */
  acquire(req: FleetRequest): Promise<FleetAnswer>;
}

/** The answer when a rule names a fleet but the agent has no fleet service (coordination: added by a reload). */
export function noFleetService(req: Pick<FleetRequest, 'fleet'>): FleetAnswer {
  const why = 'this agent has no etcd client (coordination: takes effect after a restart)';
  return req.fleet.unavailable === 'act_alone'
    ? { ok: true, hold: undefined, detail: `${why}; acting alone as fleet_unavailable: act_alone allows (unsafe)` }
    : { ok: false, reason: 'lock_unavailable', detail: `fleet ${req.fleet.name}: ${why}; a rule with fleet: does not act without its slot` };
}
