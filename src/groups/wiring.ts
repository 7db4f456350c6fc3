// Builds the agent's active/standby groups over the shared etcd client and
// wires their metrics, so agent.ts only calls create / apply / stop.
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import { Groups } from './groups.js';
import type { HookJournal } from './hooks.js';
import { GROUP_ROLES, type GroupMetricSetters, type ProbeState } from './member.js';

export interface GroupWiring {
  readonly client: Etcd3;
  readonly prefix: string;
  readonly member: string;
  readonly recordTtlSeconds: number;
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  readonly metrics: Metrics;
  readonly health: (probe: string) => ProbeState | undefined;
  readonly hostHold: () => string | undefined;
  readonly journal: HookJournal;
}

export function groupMetricSetters(m: Metrics['groups']): GroupMetricSetters {
  return {
    role: (group, role) => { for (const r of GROUP_ROLES) m.role.set({ group, role: r }, r === role ? 1 : 0); },
    transition: (group, to, cause) => m.transitions.inc({ group, to, cause }),
    token: (group, token) => m.token.set({ group }, token),
    renewalAge: (group, seconds) => m.renewalAge.set({ group }, seconds),
    eligible: (group, eligible) => m.eligible.set({ group }, eligible ? 1 : 0),
    paused: (group, paused) => m.paused.set({ group }, paused ? 1 : 0),
    hookRun: (group, hook, ok) => m.hookRuns.inc({ group, hook, outcome: ok ? 'succeeded' : 'failed' }),
    standbyFailed: (group, failed) => m.standbyFailed.set({ group }, failed ? 1 : 0),
    forget: (group) => {
      for (const role of GROUP_ROLES) m.role.remove({ group, role });
      for (const g of [m.token, m.renewalAge, m.eligible, m.paused, m.standbyFailed]) g.remove({ group });
    },
  };
}

export function createGroups(w: GroupWiring): Groups {
  return new Groups({
    client: w.client, prefix: w.prefix, member: w.member, recordTtlSeconds: w.recordTtlSeconds,
    logger: w.logger.child({ component: 'groups' }), env: w.env, now: Date.now,
    health: w.health, hostHold: w.hostHold, journal: w.journal, metrics: groupMetricSetters(w.metrics.groups),
  });
}
