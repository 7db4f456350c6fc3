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
  const hook = [`sh`, s.hookScript, s.marksFile, ...(o.hookSleepMs ? [String(o.hookSleepMs)] : [])];
  return `agent:
  listen: ${s.addr}:${s.agentPort}
  state_dir: ${s.stateDir}
  log_level: ${process.env.VIGIL_LAB_LOG ?? 'info'}
admin:
  listen: ${s.addr}:${s.adminPort}
  token_file: ${s.tokenFile}
probes:
  - { name: api, type: http, url: "http://${s.addr}:${s.appPort}/health", interval: 250ms, timeout: 200ms, failures_before_critical: 2 }
coordination:
  etcd: { endpoints: ${q(s.etcdEndpoints)}, prefix: ${q(s.prefix)}, request_timeout: 1s }
  member_name: ${s.name}
  lease_ttl: 3s
groups:
  - name: web
    healthy_when: [api]
    priority: ${o.priority}
    preempt: ${o.preempt ?? false}
    lease_ttl: ${o.leaseTtl ?? '4s'}
    renew_interval: ${o.renewInterval ?? '500ms'}
    renew_deadline: ${o.renewDeadline ?? '1500ms'}
    takeover_delay: ${o.takeoverDelay ?? '0s'}
    check_interval: ${o.checkInterval ?? '250ms'}
    on_active:  { command: ${q(hook)}, timeout: ${o.onActiveTimeout ?? '5s'} }
    on_standby: { command: ${q(hook)}, timeout: ${o.onStandbyTimeout ?? '1500ms'} }
${o.extra ?? ''}`;
}
