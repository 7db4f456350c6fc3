// A vigil agent of the partition lab: its YAML (modelled on AgentProc.config()
// in lab.ts) and its process, which runs INSIDE its database host's network
// namespace, so a cut host's agent is cut off with its server (from etcd, from
// the other servers) but still reaches that server over the host's address.
// The agent listens on the namespace address; the test reaches /healthz and
// /status through the lab's root veth (unreachable while the host is cut).
// Every agent holds the primary lease with the loopback lab's timing (ttl 4s,
// renew_interval 500ms, renew_deadline 2s, fence_within 1s), has the
// replication user (so it rejoins a fenced old primary itself) and an
// on_fence hook that leaves a line per fence in a file the test can read.
// The agent process itself (NsAgent) is shared with the group lab and lives in
// test/harness/ns-agent.ts; it is re-exported here for the partition tests.
import { ADMIN_PORT, AGENT_PORT } from '../harness/ns-agent.js';
import type { Member } from './lab.js';

export { ADMIN_PORT, AGENT_PORT, NsAgent, REPO_ROOT } from '../harness/ns-agent.js';

export interface PartitionAgentOptions {
  readonly recoveryBlock?: string;
  readonly maxLag?: string;
  readonly prePromote?: readonly string[];
  /** on_fence command (default: append VIGIL_FENCE_REASON to the site's onFenceFile). */
  readonly onFence?: readonly string[];
  /**
   * Appended to the mysql_promote action, indented by the caller to sit under
   * `action:` (6 spaces), e.g. "      replica_net_timeout: 6s\n" (not a key
   * agentYaml writes itself: replication, primary_lease, on_fence).
   */
  readonly extra?: string;
}

/** Everything agentYaml needs to know about the lab. */
export interface AgentSite {
  readonly name: Member;
  readonly addr: string;
  readonly priority: number;
  readonly mysqlPort: number;
  /** Port of the writer-endpoint forwarder inside the host's namespace (on its 127.0.0.1). */
  readonly writerPort: number;
  readonly writerFile: string;
  readonly etcdEndpoints: readonly string[];
  readonly prefix: string;
  readonly adminUser: string;
  readonly passwordFile: string;
  /** The topology's replication user: agents rejoin a fenced old primary with it. */
  readonly replUser: string;
  readonly replPasswordFile: string;
  /** Where the default on_fence hook appends its reason, one line per fence. */
  readonly onFenceFile: string;
  readonly tokenFile: string;
  readonly stateDir: string;
}

export function agentYaml(s: AgentSite, o: PartitionAgentOptions = {}): string {
  const q = JSON.stringify;
  const pre = o.prePromote ? `\n      pre_promote: { command: ${q(o.prePromote)}, timeout: 30s }` : '';
  const onFence = o.onFence ?? ['sh', '-c', `printf '%s %s\\n' "$(date +%s%3N)" "$VIGIL_FENCE_REASON" >> ${s.onFenceFile}`];
  // The writer endpoint moves with the primary (a DNS name or VIP in real life).
  const post = `printf '%s:%s' "$VIGIL_NEW_PRIMARY_HOST" "$VIGIL_NEW_PRIMARY_PORT" > ${s.writerFile}.$$ && mv ${s.writerFile}.$$ ${s.writerFile}`;
  return `agent:
  listen: ${s.addr}:${AGENT_PORT}
  log_level: ${process.env.VIGIL_LAB_LOG ?? 'info'}
  state_dir: ${s.stateDir}
  startup_grace: 1s
  # A chaos run promotes each agent dozens of times within the hour: the host-wide budget
  # (10 per hour by default, rightly refusing as rate_limited) would end it at the 21st kill.
  action_budget: { max_actions: 1000 }
admin:
  listen: ${s.addr}:${ADMIN_PORT}
  token_file: ${s.tokenFile}
coordination:
  etcd: { endpoints: ${q(s.etcdEndpoints)}, prefix: ${q(s.prefix)}, request_timeout: 1s }
  member_name: ${s.name}
  lease_ttl: 3s
probes:
  - name: primary
    type: mysql
    address: 127.0.0.1:${s.writerPort}
    user: ${s.adminUser}
    password_file: ${s.passwordFile}
    interval: 1s
    timeout: 800ms
    failures_before_critical: 3
remediations:
  - name: failover
    when: { probe: primary, state: critical }
    cooldown: 0s
    grace: 0s
    max_actions: 1000
    precheck_retry: 1s
    action:
      type: mysql_promote
      cluster: orders
      local: { address: ${s.addr}:${s.mysqlPort}, user: ${s.adminUser}, password_file: ${s.passwordFile} }
      replication: { user: ${s.replUser}, password_file: ${s.replPasswordFile} }
      primary_lease: { ttl: 4s, renew_interval: 500ms, renew_deadline: 2s, fence_within: 1s }
      on_fence: { command: ${q(onFence)}, timeout: 5s }
      priority: ${s.priority}
      max_lag_on_failover: ${o.maxLag ?? '5s'}
      catchup_timeout: 10s
      recovery_block: ${o.recoveryBlock ?? '0s'}
      member_interval: 250ms
      view_stale_after: 3s
      post_promote: { command: ["sh", "-c", ${q(post)}] }${pre}
${o.extra ?? ''}`;
}
