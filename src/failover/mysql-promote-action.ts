// mysql_promote: promote this host's replica when the cluster's primary is
// dead — corroborated by every live replica and by the primary lease, coordinated
// through etcd, with the old primary fenced. The gates live in
// promotion-gates.ts, the promotion in promotion-steps.ts, crash recovery in
// recovery.ts; this file adapts them to the remediation engine's precheck /
// execute / reconcile. The agent's cluster memberships are handed in when the
// agent composes its action types (the generic action contract knows nothing
// of failover).
import { defineAction, type Action, type PrecheckResult } from '../actions/types.js';
import { failoverSettings, mysqlPromoteFields, normalizePromoteFields } from './settings.js';
import { runGates, type Prepared } from './promotion-gates.js';
import { executePromotion } from './promotion-steps.js';
import { readIntent, readPrimary } from '../coordination/cluster-records.js';
import { signature } from './claim.js';
import { runHook } from './hooks.js';
import type { FailoverClusters } from './clusters.js';

export const NO_COORDINATION = 'VIGIL_E_NO_COORDINATION';

export function mysqlPromoteAction(getClusters: () => FailoverClusters | undefined) {
  return defineAction({
  type: 'mysql_promote',
  scope: 'cluster',
  fields: (ctx) => mysqlPromoteFields(ctx.env),
  normalize: (cfg, ctx) => normalizePromoteFields(cfg, ctx),
  create(cfg): Action {
    const settings = failoverSettings(cfg);
    const clusters = getClusters();
    const target = `mysql cluster ${settings.cluster}${clusters ? ` (member ${clusters.memberName})` : ''}`;
    let prepared: (Prepared & { unhold: () => void }) | undefined;

    const member = () => {
      const m = clusters?.member(settings.cluster);
      if (!m || !clusters) throw Object.assign(new Error(`${NO_COORDINATION}: no coordination for cluster ${settings.cluster}; configure coordination.etcd`), { code: NO_COORDINATION });
      return { m, c: clusters, log: clusters.gateLog(settings.cluster)! };
    };

    return {
      type: 'mysql_promote',
      scope: 'cluster',
      target,

      async precheck(ctx): Promise<PrecheckResult> {
        let env;
        try { env = member(); } catch (err) { return { ok: false, reason: 'lock_unavailable', detail: (err as Error).message }; }
        const { m, c, log } = env;
        const { result, prepared: p } = await runGates(m, c.deps, log, ctx.dryRun);
        if (!result.ok || !p) return result;
        // From here to release the member loop must not touch the local server.
        prepared = { ...p, unhold: m.hold() };
        const mine = prepared;
        return {
          ...result,
          release: async () => {
            mine.unhold();
            // A promoted member's guard takes the primary lease over from the lock's lease first, so it never lapses.
            await m.tick();
            await mine.lock.release();
            c.deps.lockHeld(m.keys.lock, false);
            if (prepared === mine) prepared = undefined;
            void m.tick();
          },
        };
      },

      async execute(ctx) {
        const { m, c, log } = member();
        if (!prepared) return { outcome: 'failed', detail: 'execute without a successful precheck; nothing changed' };
        return executePromotion(m, c.deps, prepared, log, { rule: ctx.rule, intentId: ctx.intentId ?? 'unknown', signal: ctx.signal });
      },

      async reconcile(ctx, intent) {
        let env;
        try { env = member(); } catch (err) { return { outcome: 'reconciled_unknown', detail: (err as Error).message }; }
        const { m, c } = env;
        let r = c.takeResolution(settings.cluster, intent.id);
        try {
          if (!r) {
            const pending = await readIntent(c.deps.client, m.keys, m.name);
            if (pending?.value.intent_id === intent.id) {
              r = await c.resolve(settings.cluster) ?? c.takeResolution(settings.cluster, intent.id);
            } else {
              // No intent in etcd: either the promotion never reached its first step, or it completed and cleared it.
              const rec = (await readPrimary(c.deps.client, m.keys))?.value;
              if (rec?.promoted_by === signature(m.name, intent.id)) {
                r = { intentId: intent.id, outcome: 'reconciled_succeeded', detail: `completed before the crash: ${m.name} is primary at epoch ${rec.epoch}`, completed: rec };
              } else {
                return { outcome: 'reconciled_failed', detail: 'the promotion never started (no intent in etcd, no record of it); nothing changed' };
              }
            }
          }
        } catch (err) {
          return { outcome: 'reconciled_unknown', detail: `etcd unreachable while reconciling (${(err as Error).message.slice(0, 200)})` };
        }
        if (!r) return { outcome: 'reconciled_unknown', detail: 'the interrupted promotion could not be resolved yet' };
        // post_promote may not have run before the crash: hooks are expected to be idempotent.
        if (r.completed && settings.postPromote) {
          const prev = r.completed.previous;
          const post = await runHook(settings.postPromote, 'post_promote', c.deps.env, {
            cluster: settings.cluster, rule: ctx.rule, intentId: intent.id, epoch: r.completed.epoch,
            oldPrimary: prev ? { name: prev.name, host: prev.host ?? '', port: prev.port ?? 0 } : null,
            newPrimary: { name: m.name, host: settings.advertise.host, port: settings.advertise.port },
          });
          return { outcome: r.outcome, detail: `${r.detail}; ${post.ok ? post.detail : `WARNING ${post.detail}`}` };
        }
        return { outcome: r.outcome, detail: r.detail };
      },
    };
  },
});
}
