// The fleets this agent belongs to, gathered from the rules that name them:
// each fleet's limits (every rule of a fleet agrees on them, checked at
// load), the probes it reports on (every probe its rules use) and the probes
// whose share it judges (the rules' triggers).
import type { VigilConfig } from '../config/schema.js';
import { compileRule } from '../remediation/rules.js';
import type { FleetLimits } from './decide.js';

export interface FleetSettings extends FleetLimits {
  /** Probes whose critical state this member publishes for the fleet. */
  readonly watching: readonly string[];
  /** Probes that trigger the fleet's rules: a share is judged (and exported) for each. */
  readonly triggers: readonly string[];
  readonly rules: readonly string[];
}

export function fleetsOf(config: VigilConfig): FleetSettings[] {
  const probes = new Map(config.probes.map((p) => [p.name, p]));
  const out = new Map<string, { limits: FleetLimits; watching: Set<string>; triggers: Set<string>; rules: string[] }>();
  for (const r of config.remediations) {
    const spec = compileRule(r, probes);
    const f = spec.fleet;
    if (!f) continue;
    const cur = out.get(f.name) ?? {
      limits: { name: f.name, maxConcurrent: f.maxConcurrent, standDownShare: f.standDownShare, minMembers: f.minMembers },
      watching: new Set<string>(), triggers: new Set<string>(), rules: [],
    };
    for (const p of spec.probes) cur.watching.add(p);
    for (const p of spec.trigger) cur.triggers.add(p);
    cur.rules.push(spec.name);
    out.set(f.name, cur);
  }
  return [...out.values()].map((x) => ({ ...x.limits, watching: [...x.watching].sort(), triggers: [...x.triggers].sort(), rules: x.rules }));
}
