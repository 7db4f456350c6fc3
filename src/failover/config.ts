// From a validated config to the agent's cluster memberships: every
// mysql_promote action names one. Checked at load: such an action needs
// `coordination:`, and two rules naming the same cluster must describe the
// same membership (one host is one member of a cluster).
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { failoverSettings, type FailoverSettings } from './settings.js';

interface RuleLike { readonly action: { readonly type: string } & Record<string, unknown> }

function promoteFields(r: RuleLike): Parameters<typeof failoverSettings>[0] | undefined {
  if (r.action.type !== 'mysql_promote') return undefined;
  const { definition: _d, type: _t, ...fields } = r.action as Record<string, unknown>;
  return fields as Parameters<typeof failoverSettings>[0];
}

/** One FailoverSettings per cluster named by a mysql_promote action. */
export function clusterSettings(cfg: { readonly remediations: readonly RuleLike[] }): FailoverSettings[] {
  const byCluster = new Map<string, FailoverSettings>();
  for (const r of cfg.remediations) {
    const f = promoteFields(r);
    if (f && !byCluster.has(f.cluster)) byCluster.set(f.cluster, failoverSettings(f));
  }
  return [...byCluster.values()];
}

export function checkFailover(cfg: { readonly remediations: readonly RuleLike[]; readonly coordination?: unknown }, zctx: z.RefinementCtx): void {
  const first = new Map<string, { index: number; settings: FailoverSettings }>();
  cfg.remediations.forEach((r, i) => {
    const f = promoteFields(r);
    if (!f) return;
    if (cfg.coordination === undefined) {
      zctx.addIssue({ code: z.ZodIssueCode.custom, path: ['remediations', i, 'action', 'type'],
        message: 'mysql_promote needs a top-level `coordination:` section (etcd endpoints): agents cannot agree on a promotion alone' });
    }
    const s = failoverSettings(f);
    const seen = first.get(s.cluster);
    if (!seen) first.set(s.cluster, { index: i, settings: s });
    else if (!isDeepStrictEqual(seen.settings, s)) {
      zctx.addIssue({ code: z.ZodIssueCode.custom, path: ['remediations', i, 'action', 'cluster'],
        message: `cluster "${s.cluster}" is also configured by remediations[${seen.index}] with different settings; a host is one member of a cluster` });
    }
  });
}
