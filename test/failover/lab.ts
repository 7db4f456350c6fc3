// The failover lab: a real MariaDB primary + 2 replicas, a real 3-node etcd,
// and three vigil agents as separate processes (one per database, each with
// its own config, state_dir and admin API). Each agent's `primary` probe goes
// through its own TCP proxy (so a test can cut one agent's path) to the
// writer endpoint, a file that post_promote rewrites (a DNS name or VIP in
// real life). Shared by test/failover/*.test.ts and bench/failover.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { startMariaTopology, type MariaNode, type MariaTopology } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';
import { clusterKeys, readPrimary, type PrimaryRecord } from '../../src/coordination/cluster-records.js';

export const MEMBERS = ['db1', 'db2', 'db3'] as const;
export type Member = (typeof MEMBERS)[number];
export const PRIORITY: Record<Member, number> = { db1: 30, db2: 100, db3: 50 };
export const TOKEN = 'lab-admin-token-0123456789abcdef';

export interface AgentOptions {
  readonly recoveryBlock?: string;
  readonly maxLag?: string;
  readonly prePromote?: readonly string[];
  readonly onFence?: readonly string[];
  /** A member name other than the agent's own (a cloned config). */
  readonly memberName?: string;
  readonly extra?: string;
}

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

export async function until<T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 20_000, stepMs = 100): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (err) { last = err; }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(stepMs);
  }
}

export class AgentProc {
  child: ChildProcess | undefined;
  readonly configFile: string;
  readonly logFile: string;
  readonly stateDir: string;
  listenPort = 0;
  adminPort = 0;

  /** `tag` tells the files of a second agent for the same server (a clone) apart. */
  constructor(readonly name: Member, readonly node: MariaNode, readonly proxy: TcpProxy, private readonly lab: Lab, tag = '') {
    this.configFile = join(lab.dir, `${name}${tag}.yaml`);
    this.logFile = join(lab.dir, `${name}${tag}.log`);
    this.stateDir = join(lab.dir, `state-${name}${tag}`);
  }

  config(o: AgentOptions): string {
    const q = JSON.stringify;
    const pre = (o.prePromote ? `\n      pre_promote: { command: ${q(o.prePromote)}, timeout: 30s }` : '')
      + (o.onFence ? `\n      on_fence: { command: ${q(o.onFence)}, timeout: 5s }` : '');
    const post = `printf '%s:%s' "$VIGIL_NEW_PRIMARY_HOST" "$VIGIL_NEW_PRIMARY_PORT" > ${this.lab.writerFile}.$$ && mv ${this.lab.writerFile}.$$ ${this.lab.writerFile}`;
    return `agent:
  listen: 127.0.0.1:${this.listenPort}
  log_level: ${process.env.VIGIL_LAB_LOG ?? 'info'}
  state_dir: ${this.stateDir}
  startup_grace: 1s
  # A chaos run promotes each agent dozens of times within the hour: the host-wide budget
  # (10 per hour by default, rightly refusing as rate_limited) would end it at the 21st kill.
  action_budget: { max_actions: 1000 }
admin:
  listen: 127.0.0.1:${this.adminPort}
  token_file: ${this.lab.tokenFile}
coordination:
  etcd: { endpoints: ${q(this.lab.etcd.endpoints)}, prefix: ${q(this.lab.prefix)}, request_timeout: 1s }
  member_name: ${o.memberName ?? this.name}
  lease_ttl: 3s
probes:
  - name: primary
    type: mysql
    address: 127.0.0.1:${this.proxy.port}
    user: ${this.lab.topo.admin.user}
    password_file: ${this.lab.passwordFile}
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
      local: { address: 127.0.0.1:${this.node.port}, user: ${this.lab.topo.admin.user}, password_file: ${this.lab.passwordFile} }
      replication: { user: ${this.lab.topo.repl.user}, password_file: ${this.lab.replPasswordFile} }
      primary_lease: { ttl: 4s, renew_interval: 500ms, renew_deadline: 2s, fence_within: 1s }
      priority: ${PRIORITY[this.name]}
      max_lag_on_failover: ${o.maxLag ?? '5s'}
      catchup_timeout: 10s
      recovery_block: ${o.recoveryBlock ?? '0s'}
      member_interval: 250ms
      view_stale_after: 3s
      post_promote: { command: ["sh", "-c", ${q(post)}] }${pre}
${o.extra ?? ''}`;
  }

  async start(o: AgentOptions = {}): Promise<void> {
    if (this.running()) throw new Error(`${this.name} is already running`);
    this.listenPort ||= await freePort();
    this.adminPort ||= await freePort();
    await writeFile(this.configFile, this.config(o));
    const { openSync, closeSync } = await import('node:fs');
    const fd = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin.ts', 'run', '--config', this.configFile], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.child = child;
    this.lab.children.add(child);
    child.once('exit', () => this.lab.children.delete(child));
    await until(`${this.name} agent up`, async () => {
      if (!this.running()) throw new Error(`${this.name} exited: ${(await readFile(this.logFile, 'utf8')).slice(-2000)}`);
      return (await fetch(`http://127.0.0.1:${this.listenPort}/healthz`).catch(() => undefined))?.ok;
    }, 60_000, 100);
  }

  running(): boolean { return !!this.child && this.child.exitCode === null && this.child.signalCode === null; }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || !this.running()) return;
    c.kill(signal);
    await once(c, 'exit');
  }

  async status(): Promise<any> {
    return (await fetch(`http://127.0.0.1:${this.listenPort}/status`)).json();
  }

  async metric(name: string, labels: Record<string, string>): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.listenPort}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  async admin(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`http://127.0.0.1:${this.adminPort}${path}`, {
      method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: await res.json() };
  }

  async journal(): Promise<any[]> {
    const text = await readFile(join(this.stateDir, 'remediation-journal.jsonl'), 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }
}

export class Lab {
  readonly children = new Set<ChildProcess>();
  agents!: Record<Member, AgentProc>;
  client!: Etcd3;
  prefix = '/lab';
  writerFile!: string;
  tokenFile!: string;
  passwordFile!: string;
  replPasswordFile!: string;
  private readonly onExit = () => { for (const c of this.children) c.kill('SIGKILL'); };

  private constructor(readonly dir: string, readonly etcd: EtcdCluster, readonly topo: MariaTopology) {
    process.on('exit', this.onExit);
  }

  static async start(): Promise<Lab> {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-failover-'));
    const [etcd, topo] = await Promise.all([startEtcd({ nodes: 3 }), startMariaTopology({ replicas: 2 })]);
    const lab = new Lab(dir, etcd, topo);
    lab.writerFile = join(dir, 'writer');
    lab.tokenFile = join(dir, 'token');
    lab.passwordFile = join(dir, 'db.pw');
    await writeFile(lab.tokenFile, TOKEN, { mode: 0o600 });
    await writeFile(lab.passwordFile, topo.admin.password, { mode: 0o600 });
    lab.replPasswordFile = join(dir, 'repl.pw');
    await writeFile(lab.replPasswordFile, topo.repl.password, { mode: 0o600 });
    lab.client = new Etcd3({ hosts: etcd.endpoints });
    const nodes = [topo.primary, ...topo.replicas];
    const agents = {} as Record<Member, AgentProc>;
    for (const [i, name] of MEMBERS.entries()) agents[name] = new AgentProc(name, nodes[i], await startTcpProxy({ file: lab.writerFile }), lab);
    lab.agents = agents;
    return lab;
  }

  node(m: Member): MariaNode { return this.agents[m].node; }
  keys() { return clusterKeys(this.prefix, 'orders'); }

  /** A fresh cluster in etcd (new prefix): the writer endpoint on `primary`, all agents (re)started. */
  async fresh(primary: Member, o: AgentOptions = {}): Promise<void> {
    await Promise.all(MEMBERS.map((m) => this.agents[m].kill('SIGTERM')));
    this.prefix = `/lab-${Date.now()}`;
    await writeFile(this.writerFile, `127.0.0.1:${this.node(primary).port}`);
    for (const m of MEMBERS) await rm(this.agents[m].stateDir, { recursive: true, force: true });
    await Promise.all(MEMBERS.map((m) => this.agents[m].start(o)));
    await this.settled(primary);
  }

  async restartAgents(o: AgentOptions): Promise<void> {
    await Promise.all(MEMBERS.map((m) => this.agents[m].kill('SIGTERM')));
    await Promise.all(MEMBERS.map((m) => this.agents[m].start(o)));
  }

  /** Every agent's last decision and gate log, for a failure message. */
  async explain(): Promise<string> {
    const out: string[] = [];
    for (const m of MEMBERS) {
      const st = await this.agents[m].status().catch((err: Error) => ({ error: err.message }));
      const rule = st.remediation?.rules?.failover;
      out.push(`${m}: decision ${JSON.stringify(rule?.last_decision)} gates ${JSON.stringify(st.failover?.clusters?.orders?.last_decision?.gates?.slice(-3))}`);
    }
    return out.join('\n');
  }

  /** The test table on `primary` and an application account read_only stops (no SUPER / READ_ONLY ADMIN). */
  async createApp(primary: Member, app: { user: string; password: string }): Promise<void> {
    const p = this.node(primary);
    await p.query('CREATE DATABASE IF NOT EXISTS lab');
    await p.query('CREATE TABLE IF NOT EXISTS lab.t (id int auto_increment primary key, v varchar(64) NOT NULL, UNIQUE KEY (v))');
    await p.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [app.user, '127.0.0.1', app.password]);
    await p.query('GRANT INSERT, SELECT ON lab.* TO ?@?', [app.user, '127.0.0.1']);
  }

  async record(): Promise<PrimaryRecord | undefined> {
    return (await readPrimary(this.client, this.keys()))?.value;
  }

  /** Waits until the record names `primary`, every view is published and every agent's probe passes. */
  async settled(primary: Member): Promise<PrimaryRecord> {
    const rec = await until(`record naming ${primary}`, async () => { const r = await this.record(); return r?.name === primary && r; });
    // Every replica's agent has seen its IO thread connected and measured its lag (a lag never measured blocks a failover).
    await until('three member views, replicas measured', async () => {
      const views = Object.values(await this.client.getAll().prefix(this.keys().membersPrefix).json()) as
        Array<{ name: string; io_running: string | null; lag_seconds: number | null; lag_measured_at: number | null }>;
      const fresh = Date.now() - 5000;
      return views.length === 3 && views.every((v) => v.name === primary || (v.io_running === 'Yes' && (v.lag_measured_at ?? 0) > fresh));
    });
    await until('every primary probe passing', async () => {
      for (const m of MEMBERS) if ((await this.agents[m].status()).probes.primary.state !== 'passing') return false;
      return true;
    });
    return rec;
  }

  async readOnly(m: Member): Promise<number | undefined> {
    if (!this.node(m).isRunning()) return undefined;
    return Number((await this.node(m).query<{ ro: number }>('SELECT @@read_only AS ro'))[0].ro);
  }

  async promotions(): Promise<number> {
    let n = 0;
    for (const m of MEMBERS) {
      if (this.agents[m].running()) n += await this.agents[m].metric('vigil_remediation_actions_total', { action: 'mysql_promote', outcome: 'succeeded' });
    }
    return n;
  }

  /** The agents rejoin a fenced old primary by themselves: wait until it replicates from `source`, verified and unfenced. */
  async rejoined(old: Member, source: Member): Promise<void> {
    await until(`${old} rejoined to ${source} by its agent`, async () => {
      const [s] = await this.node(old).query<Record<string, unknown>>('SHOW REPLICA STATUS');
      return !!s && Number(s.Master_Port) === this.node(source).port && s.Slave_IO_Running === 'Yes' && s.Slave_SQL_Running === 'Yes';
    }, 30_000);
    await until(`${old} no longer reported fenced`, async () => (await this.agents[old].metric('vigil_mysql_fenced', { cluster: 'orders' })) === 0, 15_000);
    await this.topo.waitReplicaCaughtUp(this.node(old), 20_000);
  }

  /** An operator's rejoin of a fenced old primary: its own binlog is its position, then follow `source`. */
  async rejoin(old: Member, source: Member): Promise<void> {
    const n = this.node(old);
    await n.query('SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos');
    await this.topo.pointReplicaAt(n, this.node(source));
    await this.topo.waitReplicaCaughtUp(n, 20_000);
  }

  async stop(): Promise<void> {
    await Promise.all(MEMBERS.map((m) => this.agents?.[m]?.kill('SIGKILL')));
    for (const m of MEMBERS) await this.agents?.[m]?.proxy.close();
    this.client?.close();
    await Promise.all([this.topo.stop(), this.etcd.stop()]);
    process.off('exit', this.onExit);
    if (!process.env.VIGIL_LAB_KEEP) await rm(this.dir, { recursive: true, force: true });
  }
}
