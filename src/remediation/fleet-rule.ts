// A rule's `fleet:` and `fleet_unavailable:` keys: the rule belongs to a
// fleet of hosts that remediate at most `max_concurrent` at a time and stand
// down together when a share of them fail on the same probe (a shared
// cause). Remediation owns these keys as data only; the mechanism (etcd
// slots, member records) lives in src/fleet and reaches the acting path
// through ActHost (fleet-gate.ts), so this layer never imports it.
import { z } from 'zod';
import { duration, ratio } from '../config/fields.js';
import { formatDuration } from '../config/durations.js';

const NAME_RE = /^[a-z0-9_-]+$/;

/** Added to the trigger probe's interval for the default settle: a member one interval behind still has to publish. */
export const SETTLE_MARGIN_MS = 1000;
/** The default settle for a probe on a cron schedule (no interval to go by). */
export const CRON_SETTLE_MS = 10_000;

export const fleetRuleFields = {
  fleet: z.object({
    name: z.string({ required_error: 'a fleet needs a name' }).regex(NAME_RE, 'must match [a-z0-9_-]+'),
    /** At most this many members of the fleet remediate at once (each holds one slot). */
    max_concurrent: z.number().int().min(1).default(1),
    /** When at least this share of live members have the triggering probe critical, nobody remediates on it. */
    stand_down_share: ratio().refine((v) => v > 0, 'must be above 0 (leave it out to turn the stand-down off)').optional(),
    /** The fewest live members for a share to mean anything; below it the share is not applied. */
    min_members: z.number().int().min(2).default(3),
    /** With stand_down_share: how long the slot holder waits for slower members to report before it judges again. */
    settle: duration().optional(),
  }).strict().optional(),
  /** What a rule with `fleet:` does when etcd cannot be reached: refuse (default) or act without a slot (unsafe). */
  fleet_unavailable: z.enum(['refuse', 'act_alone']).optional(),
};

type FleetField = z.output<typeof fleetRuleFields.fleet>;

/** The fleet part of a compiled rule (RuleSpec.fleet). */
export interface FleetSpec {
  readonly name: string;
  readonly maxConcurrent: number;
  readonly standDownShare?: number;
  readonly minMembers: number;
  /** 0 without stand_down_share. */
  readonly settleMs: number;
  readonly unavailable: 'refuse' | 'act_alone';
}

interface ScheduledProbe { readonly schedule?: { readonly kind: string; readonly everyMs?: number } }

/** The slowest trigger probe's interval; ms undefined when one runs on a cron schedule (no interval to go by). */
function slowestInterval(trigger: readonly string[], probes: ReadonlyMap<string, ScheduledProbe>): { probe: string; ms: number | undefined } | undefined {
  let out: { probe: string; ms: number } | undefined;
  for (const p of trigger) {
    const s = probes.get(p)?.schedule;
    if (s?.kind !== 'interval' || s.everyMs === undefined) return { probe: p, ms: undefined };
    if (!out || s.everyMs > out.ms) out = { probe: p, ms: s.everyMs };
  }
  return out;
}

export function compileFleet(rule: { fleet?: FleetField; fleet_unavailable?: 'refuse' | 'act_alone' }, trigger: readonly string[],
  probes: ReadonlyMap<string, ScheduledProbe>): FleetSpec | undefined {
  const f = rule.fleet;
  if (!f) return undefined;
  let settleMs = 0;
  if (f.stand_down_share !== undefined) {
    const slow = slowestInterval(trigger, probes);
    settleMs = f.settle ?? (slow?.ms === undefined ? CRON_SETTLE_MS : slow.ms + SETTLE_MARGIN_MS);
  }
  return {
    name: f.name, maxConcurrent: f.max_concurrent, standDownShare: f.stand_down_share, minMembers: f.min_members,
    settleMs, unavailable: rule.fleet_unavailable ?? 'refuse',
  };
}

interface FleetCheckRule {
  readonly name: string;
  readonly when?: { readonly probe?: string; readonly all_of?: readonly string[] };
  readonly action?: { readonly type: string; readonly definition?: { readonly scope: string } };
  readonly fleet?: FleetField;
  readonly fleet_unavailable?: string;
}

type Issue = (path: Array<string | number>, message: string) => void;

const AGREE = ['max_concurrent', 'stand_down_share', 'min_members'] as const;

/**
 * At load: a fleet needs coordination, a host-scoped action, and the same
 * limits in every rule that names it (the slots and the share are the
 * fleet's, not the rule's); an explicit settle must cover the trigger probe's
 * interval, or members that see the failure one interval later are not counted.
 */
export function checkFleetRules(cfg: { readonly coordination?: unknown; readonly probes: ReadonlyArray<ScheduledProbe & { readonly name: string }>; readonly remediations: readonly FleetCheckRule[] },
  issue: Issue): void {
  const first = new Map<string, number>();
  const probes = new Map(cfg.probes.map((p) => [p.name, p]));
  cfg.remediations.forEach((r, i) => {
    const f = r.fleet;
    if (!f) {
      if (r.fleet_unavailable !== undefined) issue(['remediations', i, 'fleet_unavailable'], 'only means something with `fleet:`');
      return;
    }
    if (cfg.coordination === undefined) {
      issue(['remediations', i, 'fleet'], 'a fleet needs a top-level `coordination:` section (etcd endpoints): its members share slots and health through etcd');
    }
    const scope = r.action?.definition?.scope;
    if (scope !== undefined && scope !== 'host') {
      issue(['remediations', i, 'fleet'], `only host-scoped actions (systemd_restart, asg_set_unhealthy, exec) can name a fleet; ${r.action?.type} is cluster-scoped and coordinates through its own lock`);
    }
    const j = first.get(f.name);
    if (j === undefined) first.set(f.name, i);
    else {
      const other = cfg.remediations[j].fleet!;
      for (const key of AGREE) {
        if (other[key] !== f[key]) {
          issue(['remediations', i, 'fleet', key], `is ${f[key] ?? 'not set'} here but ${other[key] ?? 'not set'} in remediations[${j}] (${cfg.remediations[j].name}): every rule of fleet "${f.name}" must agree, the slots and the share are the fleet's`);
        }
      }
    }
    if (f.settle === undefined) return;
    if (f.stand_down_share === undefined) { issue(['remediations', i, 'fleet', 'settle'], 'only means something with stand_down_share'); return; }
    const trigger = r.when?.probe !== undefined ? [r.when.probe] : [...(r.when?.all_of ?? [])];
    const slow = slowestInterval(trigger, probes);
    if (slow?.ms !== undefined && f.settle < slow.ms) {
      issue(['remediations', i, 'fleet', 'settle'], `must be at least the interval of probe ${slow.probe} (${formatDuration(slow.ms)}): members that see the same failure one interval later would not be counted yet`);
    }
  });
}
