// The top-level `groups:` list and its checks against the rest of the config:
// a group needs `coordination:` (the members agree through etcd), its
// healthy_when names configured probes, and names are unique.
import { z } from 'zod';
import { groupSchema, type GroupSettings } from './settings.js';

/** On the raw list, so a duplicate is reported even when some group has other problems. */
function checkUniqueNames(raw: unknown, ctx: z.RefinementCtx): void {
  if (!Array.isArray(raw)) return;
  const seen = new Map<string, number>();
  raw.forEach((g: unknown, i) => {
    const name = typeof g === 'object' && g !== null ? (g as { name?: unknown }).name : undefined;
    if (typeof name !== 'string') return;
    const first = seen.get(name);
    if (first !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, 'name'], message: `duplicate group name "${name}" (also groups[${first}])` });
    else seen.set(name, i);
  });
}

export const groupsSchema = () => z.preprocess((raw, ctx) => { checkUniqueNames(raw, ctx); return raw; }, z.array(groupSchema()).default([]));

export function checkGroups(cfg: { readonly groups: readonly GroupSettings[]; readonly probes: ReadonlyArray<{ readonly name: string }>; readonly coordination?: unknown },
  zctx: z.RefinementCtx): void {
  const probes = new Set(cfg.probes.map((p) => p.name));
  cfg.groups.forEach((g, i) => {
    if (cfg.coordination === undefined) {
      zctx.addIssue({ code: z.ZodIssueCode.custom, path: ['groups', i, 'name'],
        message: 'groups need a top-level `coordination:` section (etcd endpoints): members cannot agree on who is active alone' });
    }
    g.healthyWhen.forEach((p, j) => {
      if (!probes.has(p)) {
        zctx.addIssue({ code: z.ZodIssueCode.custom, path: ['groups', i, 'healthy_when', j],
          message: `no probe named "${p}" (probes: ${[...probes].join(', ') || 'none'})` });
      }
    });
  });
}
