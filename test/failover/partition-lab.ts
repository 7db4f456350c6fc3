// The partition lab: real network partitions for vigil's MySQL failover. Six
// hosts, each its own network namespace on one bridge (test/harness/netns.ts):
// db1, db2, db3 (a mariadbd each, GTID replication from db1, and later a vigil
// agent each) and e1, e2, e3 (a 3-node etcd). `cut(host)` takes a host's
// bridge port down: nobody reaches it and it reaches nobody, yet its processes
// run on and an application in the same namespace still writes to its local
// server. MariaDB keeps its default replication timing (slave_net_timeout 60 s,
// heartbeat 30 s): replicas of a cut primary keep `Slave_IO_Running: Yes` for
// up to a minute, and vigil has to cope with exactly that.
//
// The writer endpoint: each agent's `primary` probe connects to 127.0.0.1:<p>
// INSIDE its own namespace, where a forwarder (test/harness/tcp-proxy.ts run
// as a process) sends each new connection to the host:port written in one
// shared file; post_promote rewrites that file (as lab.ts does), so the
// endpoint follows the primary like a DNS name or a VIP. The probe config stays
// static and each agent sees the primary through its own host's network: a
// cut replica's agent loses it, a cut primary's agent still sees its server.
//
// The test process reaches every host through the lab's root veth (agents'
// /status, the servers over TCP, etcd), except a cut one; `node(m).socketQuery`
// still reaches a cut host's server over its unix socket.
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { startMariaTopology, type MariaNode, type MariaTopology } from '../harness/mariadb.js';
import { freeze, startNetLab, thaw, type NetLab } from '../harness/netns.js';
import { clusterKeys, readPrimary, type PrimaryRecord } from '../../src/coordination/cluster-records.js';
import { MEMBERS, PRIORITY, TOKEN, until, type Member } from './lab.js';
import { agentYaml, NsAgent, REPO_ROOT, type PartitionAgentOptions } from './partition-agent.js';
import { ReadOnlySampler, Writer } from './partition-app.js';

interface MemberViewLike { name: string; io_running: string | null; lag_measured_at: number | null; published_at?: number; fenced?: boolean; read_only?: boolean | null; source?: { host: string; port: number } | null }

/** The member views a settle waited on, for its failure message: who is missing, who is not replicating or not measured. */
function describeViews(views: readonly MemberViewLike[]): string {
  const now = Date.now();
  const age = (t: number | null | undefined) => (t ? `${now - t} ms ago` : 'never');
  return `member views (${views.length}): ${views.map((v) => `${v.name} io ${v.io_running} source ${v.source ? `${v.source.host}:${v.source.port}` : 'none'} `
    + `read_only ${v.read_only} fenced ${v.fenced} lag measured ${age(v.lag_measured_at)} published ${age(v.published_at)}`).join('; ') || 'none'}`;
}

export const ETCD_HOSTS = ['e1', 'e2', 'e3'] as const;
export type EtcdHost = (typeof ETCD_HOSTS)[number];
export type LabHost = Member | EtcdHost;
export const MYSQL_PORT = 3306;
export const ETCD_CLIENT_PORT = 2379;
const WRITER_SCRIPT = fileURLToPath(new URL('./partition-writer.ts', import.meta.url));
const TCP_PROXY = new URL('../harness/tcp-proxy.ts', import.meta.url).href;

const isMember = (h: string): h is Member => (MEMBERS as readonly string[]).includes(h);

export class PartitionLab {
  topo!: MariaTopology;
  etcd!: EtcdCluster;
  client!: Etcd3;
  /** Key prefix of the cluster records; `newPrefix()` starts a fresh cluster in etcd. */
  prefix: string;
  readonly writerFile: string;
  readonly passwordFile: string;
  readonly replPasswordFile: string;
  readonly tokenFile: string;
  /** The application user: INSERT/SELECT on `app` only, no SUPER, so read_only stops it. */
  readonly app = { user: 'app', password: randomBytes(12).toString('hex'), database: 'app' };
  readonly agents = {} as Record<Member, NsAgent>;
  readonly writers: Writer[] = [];
  private readonly forwarders = new Map<Member, number>();
  private readonly samplers: ReadOnlySampler[] = [];
  private readonly frozen = new Map<string, number[]>();
  private stopped: Promise<void> | undefined;
  private readonly onExit = (): void => { if (!process.env.VIGIL_LAB_KEEP) rmSync(this.dir, { recursive: true, force: true }); };

  private constructor(readonly net: NetLab, readonly dir: string, prefix: string) {
    this.prefix = prefix;
    this.writerFile = join(dir, 'writer');
    this.passwordFile = join(dir, 'db.pw');
    this.replPasswordFile = join(dir, 'repl.pw');
    this.tokenFile = join(dir, 'token');
    process.on('exit', this.onExit);
  }

  /** Namespaces, MariaDB (db1 primary, db2/db3 replicas), etcd, the app user and the forwarders; no agents yet. */
  static async start(opts: { prefix?: string } = {}): Promise<PartitionLab> {
    const net = await startNetLab({ hosts: [...MEMBERS, ...ETCD_HOSTS] });
    const lab = new PartitionLab(net, await mkdtemp(join(tmpdir(), 'vigil-partition-')), opts.prefix ?? `/plab-${Date.now()}`);
    try {
      const [topo, etcd] = await Promise.all([
        startMariaTopology({
          replicas: 2, names: MEMBERS, clientHost: net.subnetPattern, slaveNetTimeoutS: null,
          placement: (i) => ({ host: net.addr(MEMBERS[i]), port: MYSQL_PORT, wrap: net.wrap(MEMBERS[i]) }),
        }),
        startEtcd({
          nodes: 3, names: ETCD_HOSTS,
          placement: (i) => ({ host: net.addr(ETCD_HOSTS[i]), clientPort: ETCD_CLIENT_PORT, peerPort: 2380, metricsPort: 2381, wrap: net.wrap(ETCD_HOSTS[i]) }),
        }),
      ]);
      lab.topo = topo;
      lab.etcd = etcd;
      lab.client = lab.newEtcdClient();
      await writeFile(lab.tokenFile, TOKEN, { mode: 0o600 });
      await writeFile(lab.passwordFile, topo.admin.password, { mode: 0o600 });
      await writeFile(lab.replPasswordFile, topo.repl.password, { mode: 0o600 });
      await writeFile(lab.writerFile, `${net.addr('db1')}:${MYSQL_PORT}`);
      await lab.createApp();
      for (const m of MEMBERS) {
        const stateDir = join(lab.dir, `state-${m}`);
        lab.agents[m] = new NsAgent(m, net, lab.dir, stateDir, TOKEN);
      }
      await Promise.all(MEMBERS.map((m) => lab.startForwarder(m)));
      return lab;
    } catch (err) {
      await lab.stop();
      throw err;
    }
  }

  private async createApp(): Promise<void> {
    const p = this.node('db1');
    const { user, password, database } = this.app;
    await p.query(`CREATE DATABASE ${database}`);
    await p.query(`CREATE TABLE ${database}.writes (id VARCHAR(64) PRIMARY KEY, writer VARCHAR(32) NOT NULL,
      sent_at BIGINT NOT NULL, server_id INT UNSIGNED NOT NULL)`);
    await p.query('CREATE USER ?@? IDENTIFIED BY ?', [user, this.net.subnetPattern, password]);
    await p.query(`GRANT SELECT, INSERT ON ${database}.* TO ?@?`, [user, this.net.subnetPattern]);
    for (const r of this.topo.replicas) await this.topo.waitReplicaCaughtUp(r);
  }

  /** The writer-endpoint forwarder inside `m`'s namespace, listening on its 127.0.0.1. */
  private async startForwarder(m: Member): Promise<void> {
    const code = `const { startTcpProxy } = await import(${JSON.stringify(TCP_PROXY)});
      const p = await startTcpProxy({ file: process.argv[1] }); console.log(p.port);`;
    const child = this.net.spawn(m, process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, this.writerFile],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      child.once('exit', (code) => reject(new Error(`${m}'s forwarder exited (${code}) before it listened`)));
    });
    this.forwarders.set(m, port);
  }

  addr(host: LabHost): string { return this.net.addr(host); }
  node(m: Member): MariaNode { return this.topo.nodes[MEMBERS.indexOf(m)]; }
  keys() { return clusterKeys(this.prefix, 'orders'); }
  newPrefix(): string { this.prefix = `/plab-${Date.now()}`; return this.prefix; }

  /** The agent YAML for `m` (see partition-agent.ts: primary lease, replication user and on_fence included). */
  agentConfig(m: Member, o: PartitionAgentOptions = {}): string {
    return agentYaml({
      name: m, addr: this.addr(m), priority: PRIORITY[m], mysqlPort: MYSQL_PORT, writerPort: this.forwarders.get(m)!,
      writerFile: this.writerFile, etcdEndpoints: this.etcd.endpoints, prefix: this.prefix, adminUser: this.topo.admin.user,
      passwordFile: this.passwordFile, tokenFile: this.tokenFile, stateDir: this.agents[m].stateDir,
      replUser: this.topo.repl.user, replPasswordFile: this.replPasswordFile, onFenceFile: this.onFenceFile(m),
    }, o);
  }

  /** The file the default on_fence hook of `m`'s agent appends to: "<ms since epoch> <VIGIL_FENCE_REASON>" per fence. */
  onFenceFile(m: Member): string { return join(this.dir, `on-fence-${m}.log`); }

  /**
   * A new etcd client for the test process, the old one closed. After all of
   * etcd was cut off, etcd3's per-host circuit breakers keep failing requests
   * for a while even once etcd is back; a fresh client does not.
   */
  reconnectEtcd(): Etcd3 {
    this.client?.close();
    this.client = this.newEtcdClient();
    return this.client;
  }

  private newEtcdClient(): Etcd3 { return new Etcd3({ hosts: this.etcd.endpoints, dialTimeout: 1000 }); }

  /** Starts `m`'s agent inside its namespace (default YAML: agentConfig(m)); resolves once /healthz answers. */
  startAgent(m: Member, yaml: string = this.agentConfig(m)): Promise<void> { return this.agents[m].start(yaml); }
  killAgent(m: Member, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> { return this.agents[m].kill(signal); }
  agentStatus(m: Member): Promise<any> { return this.agents[m].status(); }
  agentPids(m: Member): number[] { const p = this.agents[m].pid(); return p === undefined ? [] : [p]; }

  /** Points the writer endpoint at `primary`, wipes agent state, starts every agent on a new prefix, waits until settled. */
  async fresh(primary: Member, o: PartitionAgentOptions = {}): Promise<PrimaryRecord> {
    await Promise.all(MEMBERS.map((m) => this.killAgent(m, 'SIGTERM')));
    this.newPrefix();
    await writeFile(this.writerFile, `${this.addr(primary)}:${MYSQL_PORT}`);
    for (const m of MEMBERS) await rm(this.agents[m].stateDir, { recursive: true, force: true });
    await Promise.all(MEMBERS.map((m) => this.startAgent(m, this.agentConfig(m, o))));
    return this.settled(primary);
  }

  /** The record names `primary`, three member views are published (replicas measured), every primary probe passes. */
  async settled(primary: Member, timeoutMs = 30_000): Promise<PrimaryRecord> {
    const rec = await until(`record naming ${primary}`, async () => { const r = await this.record(); return r?.name === primary && r; }, timeoutMs);
    let views: MemberViewLike[] = [];
    await until('three member views, replicas measured', async () => {
      views = Object.values(await this.client.getAll().prefix(this.keys().membersPrefix).json()) as MemberViewLike[];
      return views.length === 3 && views.every((v) => v.name === primary || (v.io_running === 'Yes' && (v.lag_measured_at ?? 0) > Date.now() - 5000));
    }, timeoutMs).catch(async (err: Error) => {
      const logs = await Promise.all(MEMBERS.map(async (m) => `${m}'s agent log:\n${await this.agents[m].logTail(6)}`));
      throw new Error(`${err.message}\n${describeViews(views)}\n${await this.explain()}\n${logs.join('\n')}`);
    });
    await until('every primary probe passing', async () => {
      for (const m of MEMBERS) if ((await this.agentStatus(m)).probes.primary.state !== 'passing') return false;
      return true;
    }, timeoutMs);
    return rec;
  }

  /**
   * An application in `host`'s namespace writing to `target` (a member's server,
   * or any host:port, e.g. 127.0.0.1 and the forwarder port there) every 100 ms.
   */
  startWriter(host: LabHost, target: Member | { host: string; port: number }, name = `w${this.writers.length + 1}`): Writer {
    const t = typeof target === 'string' ? { host: this.addr(target), port: MYSQL_PORT } : target;
    const fd = openSync(join(this.dir, `writer-${name}.log`), 'a');
    try {
      const child = this.net.spawn(host, process.execPath, ['--import', 'tsx', WRITER_SCRIPT, t.host, String(t.port), name], {
        cwd: REPO_ROOT, stdio: ['ignore', 'pipe', fd],
        env: { ...process.env, VIGIL_APP_USER: this.app.user, VIGIL_APP_PASSWORD: this.app.password },
      });
      const w = new Writer(name, child);
      this.writers.push(w);
      return w;
    } finally { closeSync(fd); }
  }

  /** Port of the writer-endpoint forwarder on 127.0.0.1 inside `m`'s namespace. */
  writerEndpoint(m: Member): { host: string; port: number } { return { host: '127.0.0.1', port: this.forwarders.get(m)! }; }

  /** Samples @@read_only of db1..db3 from the test process every ~100 ms until stop() (the lab's or its own). */
  startSampler(): ReadOnlySampler {
    const s = new ReadOnlySampler(MEMBERS.map((m) => ({ name: m, host: this.addr(m), port: MYSQL_PORT })),
      { user: this.topo.admin.user, password: this.topo.admin.password });
    this.samplers.push(s);
    return s;
  }

  cut(host: LabHost): Promise<void> { return this.net.cut(host); }
  heal(host: LabHost): Promise<void> { return this.net.heal(host); }

  /** SIGSTOP a host: a database host's mysqld and agent; an etcd host's etcd. Returns the PIDs. */
  freeze(host: LabHost): number[] {
    const pids = isMember(host)
      ? [this.node(host).pid(), this.agents[host].pid()].filter((p): p is number => p !== undefined)
      : this.net.pids(host);
    freeze(pids);
    this.frozen.set(host, [...(this.frozen.get(host) ?? []), ...pids]);
    return pids;
  }

  thaw(host: LabHost): void {
    thaw(this.frozen.get(host) ?? []);
    this.frozen.delete(host);
  }

  async record(): Promise<PrimaryRecord | undefined> {
    return (await readPrimary(this.client, this.keys()))?.value;
  }

  /** An operator's rejoin of a fenced old primary: its own binlog is its position, then follow `source`. */
  async rejoin(old: Member, source: Member): Promise<void> {
    const n = this.node(old);
    await n.query('SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos');
    await this.topo.pointReplicaAt(n, this.node(source));
    await this.topo.waitReplicaCaughtUp(n, 20_000);
  }

  /** Every running agent's last failover decision and gates, for a failure message. */
  async explain(): Promise<string> {
    const out: string[] = [];
    for (const m of MEMBERS) {
      const st = await this.agentStatus(m).catch((err: Error) => ({ error: err.message }));
      const o = st.failover?.clusters?.orders;
      out.push(`${m}: decision ${JSON.stringify(st.remediation?.rules?.failover?.last_decision)} gates ${JSON.stringify(o?.last_decision?.gates?.slice(-3))}`
        + ` local ${JSON.stringify(o?.local)} alignment ${JSON.stringify(o?.alignment)} etcd_error ${JSON.stringify(o?.etcd_error)}`
        + ` identity_conflict ${JSON.stringify(o?.identity_conflict)} events ${JSON.stringify(o?.events?.slice(0, 4))}`);
    }
    return out.join('\n');
  }

  /** Kills everything by PID (also frozen and cut processes), deletes the namespaces and, unless VIGIL_LAB_KEEP, the temp dir. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const errors: unknown[] = [];
      const step = async (f: () => Promise<unknown> | undefined): Promise<void> => { try { await f(); } catch (err) { errors.push(err); } };
      await Promise.all(this.samplers.map((s) => step(() => s.stop())));
      await Promise.all(this.writers.map((w) => step(() => w.stop())));
      await Promise.all(Object.values(this.agents).map((a) => step(() => a.kill('SIGKILL'))));
      this.client?.close();
      await Promise.all([step(() => this.topo?.stop()), step(() => this.etcd?.stop())]);
      await step(() => this.net.stop());
      if (!process.env.VIGIL_LAB_KEEP) await step(() => rm(this.dir, { recursive: true, force: true }));
      process.off('exit', this.onExit);
      if (errors.length) throw new AggregateError(errors, 'partition lab: clean-up had errors');
    })();
    return this.stopped;
  }
}
