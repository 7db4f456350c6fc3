// The vigil agent YAML of one group-lab member (issue #12, active/standby
// groups). Every member runs the same `web` group: it is healthy while its
// `api` probe (its own app, on its own address) passes; the active member
// holds a lease-bound key in etcd and answers 200 on /role/web, the others
// 503. Both hooks are mark-hook.sh writing to the lab's shared marks file
// (the hook learns active/standby from VIGIL_ROLE).
//
// Timing (the loopback failover lab's scale, so a takeover test takes seconds):
// group lease 4 s renewed every 500 ms and given up 1.5 s after the last
// successful renewal; probes and the group's own check every 250 ms.
/** The lab's timing in ms (the YAML below writes these unless a test overrides them). */
export const LAB_TIMING = {
  probeIntervalMs: 250, failuresBeforeCritical: 2,
  leaseTtlMs: 4000, renewIntervalMs: 500, renewDeadlineMs: 1500, takeoverDelayMs: 0, checkIntervalMs: 250,
  onActiveTimeoutMs: 5000, onStandbyTimeoutMs: 1500,
} as const;

/** 4000 → "4s", 1500 → "1500ms" (the YAML's duration syntax). */
export function dur(ms: number): string { return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`; }

export interface GroupAgentSite {
  readonly name: string;
  /** The member host's address: the agent, its admin API and its app listen there. */
  readonly addr: string;
  readonly appPort: number;
  readonly agentPort: number;
  readonly adminPort: number;
  readonly stateDir: string;
  readonly tokenFile: string;
  readonly etcdEndpoints: readonly string[];
  /** Unique per lab run (and per fresh scenario), e.g. /vigil-lab-3fa2c1. */
  readonly prefix: string;
  readonly hookScript: string;
  readonly marksFile: string;
}

export interface GroupAgentOptions {
  /** Default: g1 100, g2 90, g3 80 (see PRIORITY in group-lab.ts). */
  readonly priority?: number;
  readonly preempt?: boolean;
  readonly leaseTtl?: string;
  readonly renewInterval?: string;
  readonly renewDeadline?: string;
  readonly takeoverDelay?: string;
  readonly checkInterval?: string;
  readonly onActiveTimeout?: string;
  readonly onStandbyTimeout?: string;
  /** Simulated hook work in ms (mark-hook.sh's second argument); a test can also slow one member down at run time. */
  readonly hookSleepMs?: number;
  /** Lines appended under the group (indented 4 spaces by the caller). */
  readonly extra?: string;
}

export function groupAgentYaml(s: GroupAgentSite, o: GroupAgentOptions & { priority: number }): string {
  const q = JSON.stringify;
  const t = LAB_TIMING;
  const hook = [`sh`, s.hookScript, s.marksFile, ...(o.hookSleepMs ? [String(o.hookSleepMs)] : [])];
  return `agent:
  listen: ${s.addr}:${s.agentPort}
  state_dir: ${s.stateDir}
  log_level: ${process.env.VIGIL_LAB_LOG ?? 'info'}
admin:
  listen: ${s.addr}:${s.adminPort}
  token_file: ${s.tokenFile}
probes:
  - { name: api, type: http, url: "http://${s.addr}:${s.appPort}/health", interval: ${dur(t.probeIntervalMs)}, timeout: 200ms, failures_before_critical: ${t.failuresBeforeCritical} }
coordination:
  etcd: { endpoints: ${q(s.etcdEndpoints)}, prefix: ${q(s.prefix)}, request_timeout: 1s }
  member_name: ${s.name}
  lease_ttl: 3s
groups:
  - name: web
    healthy_when: [api]
    priority: ${o.priority}
    preempt: ${o.preempt ?? false}
    lease_ttl: ${o.leaseTtl ?? dur(t.leaseTtlMs)}
    renew_interval: ${o.renewInterval ?? dur(t.renewIntervalMs)}
    renew_deadline: ${o.renewDeadline ?? dur(t.renewDeadlineMs)}
    takeover_delay: ${o.takeoverDelay ?? dur(t.takeoverDelayMs)}
    check_interval: ${o.checkInterval ?? dur(t.checkIntervalMs)}
    on_active:  { command: ${q(hook)}, timeout: ${o.onActiveTimeout ?? dur(t.onActiveTimeoutMs)} }
    on_standby: { command: ${q(hook)}, timeout: ${o.onStandbyTimeout ?? dur(t.onStandbyTimeoutMs)} }
${o.extra ?? ''}`;
}
