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
import { type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetLab } from '../harness/netns.js';
import { until, type Member } from './lab.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const AGENT_PORT = 9817;
export const ADMIN_PORT = 9818;

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

/** One agent process in its host's namespace. */
export class NsAgent {
  child: ChildProcess | undefined;
  readonly configFile: string;
  readonly logFile: string;
  readonly url: string;
  readonly adminUrl: string;

  constructor(readonly name: Member, private readonly net: NetLab, readonly dir: string, readonly stateDir: string, private readonly token: string) {
    this.configFile = join(dir, `${name}.yaml`);
    this.logFile = join(dir, `${name}.log`);
    this.url = `http://${net.addr(name)}:${AGENT_PORT}`;
    this.adminUrl = `http://${net.addr(name)}:${ADMIN_PORT}`;
  }

  running(): boolean { return !!this.child && this.child.exitCode === null && this.child.signalCode === null; }

  pid(): number | undefined { return this.running() ? this.child?.pid : undefined; }

  /** Writes the YAML, starts the agent and waits for /healthz (through the root veth: the host must not be cut). */
  async start(yaml: string): Promise<void> {
    if (this.running()) throw new Error(`${this.name}'s agent is already running`);
    await writeFile(this.configFile, yaml);
    const fd = openSync(this.logFile, 'a');
    try {
      this.child = this.net.spawn(this.name, process.execPath,
        ['--import', 'tsx', 'src/bin.ts', 'run', '--config', this.configFile], { cwd: REPO_ROOT, stdio: ['ignore', fd, fd] });
    } finally { closeSync(fd); }
    await until(`${this.name} agent up`, async () => {
      if (!this.running()) throw new Error(`${this.name}'s agent exited: ${(await readFile(this.logFile, 'utf8')).slice(-2000)}`);
      return (await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.ok;
    }, 60_000, 100);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || !this.running()) return;
    const exited = once(c, 'exit');
    c.kill(signal);
    await exited;
  }

  async status(): Promise<any> {
    return (await fetch(`${this.url}/status`, { signal: AbortSignal.timeout(2000) })).json();
  }

  async metric(name: string, labels: Record<string, string>): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  async admin(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${this.adminUrl}${path}`, {
      method, headers: { authorization: `Bearer ${this.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, json: await res.json() };
  }

  async journal(): Promise<any[]> {
    const text = await readFile(join(this.stateDir, 'remediation-journal.jsonl'), 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }
}
