// The group lab: real components for vigil's active/standby groups (issue #12)
// and the takeover benchmark. Six hosts, each its own network namespace on one
// bridge (test/harness/netns.ts):
//   g1, g2, g3  members: an app each (group-app.mjs on <addr>:8080) and a
//               vigil agent each (<addr>:9817, admin :9818) running the `web`
//               group (group-agent.ts), started by startAgent(s);
//   e1, e2, e3  a 3-node etcd, on hosts of its own so that cutting a member
//               leaves quorum intact, and a test can take quorum away by
//               cutting or killing two of them (stopEtcdQuorum).
// In the root namespace, a real HAProxy (test/harness/haproxy.ts) on
// 127.0.0.1 sends traffic to the members' apps and health-checks each
// member's agent on /role/web (200 active, 503 standby), reaching every host
// through the lab's root veth. `through()` is one request through it.
// The agents' on_active/on_standby hooks are mark-hook.sh writing to one
// shared marks file (all namespaces share the filesystem and the clock);
// `marks()`/`intervals()` read it (marks.ts).
//
// start() runs everything but the agents (group-lab.harness.test.ts proves
// that part with a stand-in role endpoint); the tests start the agents.
import { type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { startHaproxy, type Haproxy } from '../harness/haproxy.js';
import { freeze, startNetLab, thaw, type NetLab } from '../harness/netns.js';
import { ADMIN_PORT, AGENT_PORT, NsAgent } from '../harness/ns-agent.js';
import { freePort } from '../harness/ports.js';
import { sleep } from '../helpers/wait.js';
import { groupAgentYaml, type GroupAgentOptions } from './group-agent.js';
import { activeIntervals, readMarks, type Interval, type Mark, type Role } from './marks.js';

export const MEMBERS = ['g1', 'g2', 'g3'] as const;
export type Member = (typeof MEMBERS)[number];
export const ETCD_HOSTS = ['e1', 'e2', 'e3'] as const;
export type EtcdHost = (typeof ETCD_HOSTS)[number];
export type LabHost = Member | EtcdHost;
export const GROUP = 'web';
export const APP_PORT = 8080;
export const ETCD_CLIENT_PORT = 2379;
export const PRIORITY: Record<Member, number> = { g1: 100, g2: 90, g3: 80 };
export const TOKEN = 'group-lab-admin-token-0123456789';
export const HOOK_SCRIPT = fileURLToPath(new URL('./mark-hook.sh', import.meta.url));
const APP_SCRIPT = fileURLToPath(new URL('./group-app.mjs', import.meta.url));
// The two etcd hosts stopEtcdQuorum takes away (e1 stays, alone: no quorum).
const QUORUM_VICTIMS = ['e2', 'e3'] as const;

/** One request through HAProxy: the member whose app answered, or what went wrong. */
export type Through = { ok: true; member: string } | { ok: false; status?: number; error: string };

/** GET on a fresh connection (no keep-alive: each call is one new client, as a benchmark counts them). */
function get(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => { body += String(d); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export class GroupLab {
  etcd!: EtcdCluster;
  haproxy!: Haproxy;
  /** The test process's etcd client (reconnectEtcd() after etcd was unreachable). */
  client: Etcd3 | undefined;
  /** etcd key prefix of this run's agents; newPrefix() gives a fresh one. */
  prefix = `/vigil-lab-${randomBytes(3).toString('hex')}`;
  readonly marksFile: string;
  readonly tokenFile: string;
  readonly agents = {} as Record<Member, NsAgent>;
  private readonly apps = new Map<Member, ChildProcess>();
  private readonly frozen = new Map<Member, number>();
  private quorumStoppedBy: 'cut' | 'kill' | undefined;
  private stopped: Promise<void> | undefined;
  private readonly onExit = (): void => { if (!process.env.VIGIL_LAB_KEEP) rmSync(this.dir, { recursive: true, force: true }); };

  private constructor(readonly net: NetLab, readonly dir: string) {
    this.marksFile = join(dir, 'marks');
    this.tokenFile = join(dir, 'token');
    process.on('exit', this.onExit);
  }

  /** Namespaces, etcd, the three apps and HAProxy; no agents (startAgents() starts those). */
  static async start(): Promise<GroupLab> {
    const net = await startNetLab({ hosts: [...MEMBERS, ...ETCD_HOSTS] });
    const lab = new GroupLab(net, await mkdtemp(join(tmpdir(), 'vigil-group-lab-')));
    try {
      await writeFile(lab.tokenFile, TOKEN, { mode: 0o600 });
      for (const m of MEMBERS) {
        lab.agents[m] = new NsAgent(m, net, lab.dir, join(lab.dir, `state-${m}`), TOKEN, { agentPort: AGENT_PORT, adminPort: ADMIN_PORT });
      }
      // allSettled, not all: on a failure every part that did start is in `lab` for stop() to end.
      const started = await Promise.allSettled([
        startEtcd({
          nodes: 3, names: ETCD_HOSTS,
          placement: (i) => ({ host: net.addr(ETCD_HOSTS[i]), clientPort: ETCD_CLIENT_PORT, peerPort: 2380, metricsPort: 2381, wrap: net.wrap(ETCD_HOSTS[i]) }),
        }).then((e) => { lab.etcd = e; }),
        freePort().then((port) => startHaproxy({
          bind: { host: '127.0.0.1', port }, checkPath: `/role/${GROUP}`,
          servers: MEMBERS.map((m) => ({ name: m, addr: net.addr(m), port: APP_PORT, checkPort: AGENT_PORT })),
        })).then((h) => { lab.haproxy = h; }),
        ...MEMBERS.map((m) => lab.startApp(m)),
      ]);
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      lab.client = lab.newEtcdClient();
      return lab;
    } catch (err) {
      await lab.stop().catch(() => undefined);
      throw err;
    }
  }

  addr(host: LabHost): string { return this.net.addr(host); }

  // ---- the apps ----------------------------------------------------------

  /** Starts `m`'s app on <addr>:8080 in its namespace; resolves once it listens. */
  async startApp(m: Member): Promise<void> {
    if (this.appRunning(m)) throw new Error(`${m}'s app is already running`);
    const child = this.net.spawn(m, process.execPath, [APP_SCRIPT, this.addr(m), String(APP_PORT), m], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.apps.set(m, child);
    const [ready] = await Promise.race([
      once(child.stdout!, 'data'),
      once(child, 'exit').then(([code]) => { throw new Error(`${m}'s app exited (${code}) before it listened`); }),
    ]);
    if (String(ready).trim() !== 'listening') throw new Error(`${m}'s app said ${JSON.stringify(String(ready))}`);
    child.stdout!.resume(); // nothing more to read; never let the pipe fill
  }

  /** SIGKILL `m`'s app (a crashed service) and wait until it is gone. */
  async killApp(m: Member): Promise<void> {
    const c = this.apps.get(m);
    if (!c || !this.appRunning(m)) return;
    const exited = once(c, 'exit');
    c.kill('SIGKILL');
    await exited;
  }

  appRunning(m: Member): boolean {
    const c = this.apps.get(m);
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  appPid(m: Member): number | undefined { return this.appRunning(m) ? this.apps.get(m)?.pid : undefined; }

  // ---- the agents ------------------------------------------------------------

  /** `m`'s agent YAML (group-agent.ts), priority PRIORITY[m] unless overridden. */
  agentConfig(m: Member, o: GroupAgentOptions = {}): string {
    const a = this.agents[m];
    return groupAgentYaml({
      name: m, addr: this.addr(m), appPort: APP_PORT, agentPort: AGENT_PORT, adminPort: ADMIN_PORT,
      stateDir: a.stateDir, tokenFile: this.tokenFile, etcdEndpoints: this.etcd.endpoints, prefix: this.prefix,
      hookScript: HOOK_SCRIPT, marksFile: this.marksFile,
    }, { ...o, priority: o.priority ?? PRIORITY[m] });
  }

  /** Starts `m`'s agent in its namespace (default YAML: agentConfig(m)); resolves once /healthz answers. */
  startAgent(m: Member, yaml: string = this.agentConfig(m)): Promise<void> { return this.agents[m].start(yaml); }

  /** Starts all three agents at once, each with agentConfig(m, perMember?.[m] ?? o). */
  async startAgents(o: GroupAgentOptions = {}, perMember: Partial<Record<Member, GroupAgentOptions>> = {}): Promise<void> {
    await Promise.all(MEMBERS.map((m) => this.startAgent(m, this.agentConfig(m, perMember[m] ?? o))));
  }

  agent(m: Member): NsAgent { return this.agents[m]; }

  killAgent(m: Member, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> { this.frozen.delete(m); return this.agents[m].kill(signal); }

  /** SIGSTOP the agent process only (its app, hooks and the host's network carry on). Returns its PID. */
  freezeAgent(m: Member): number {
    const pid = this.agents[m].pid();
    if (pid === undefined) throw new Error(`${m}'s agent is not running`);
    freeze([pid]);
    this.frozen.set(m, pid);
    return pid;
  }

  thawAgent(m: Member): void {
    const pid = this.frozen.get(m);
    if (pid !== undefined) thaw([pid]);
    this.frozen.delete(m);
  }

  /** A fresh etcd prefix (a group nobody holds yet), for a scenario that restarts the agents. */
  newPrefix(): string { this.prefix = `/vigil-lab-${randomBytes(3).toString('hex')}`; return this.prefix; }

  // ---- observing -------------------------------------------------------------

  /**
   * `m`'s GET /role/web status as the test process sees it (through the root
   * veth), or 'unreachable' (cut, frozen, nothing listening) after 1 s.
   */
  async role(m: Member): Promise<number | 'unreachable'> {
    return get(`http://${this.addr(m)}:${AGENT_PORT}/role/${GROUP}`, 1000).then((r) => r.status, () => 'unreachable');
  }

  /** `m`'s GET /role/web/standby (200: an eligible standby), or 'unreachable' after 1 s. */
  async standbyRole(m: Member): Promise<number | 'unreachable'> {
    return get(`http://${this.addr(m)}:${AGENT_PORT}/role/${GROUP}/standby`, 1000).then((r) => r.status, () => 'unreachable');
  }

  /** `m`'s /role/web asked from INSIDE its namespace: still answers while `m` is cut (what its own host sees). */
  async roleInside(m: Member): Promise<number | 'unreachable'> {
    const code = `fetch(process.argv[1],{signal:AbortSignal.timeout(1000)}).then(r=>console.log(r.status),()=>console.log('unreachable'))`;
    const out = (await this.net.exec(m, process.execPath, ['-e', code, `http://${this.addr(m)}:${AGENT_PORT}/role/${GROUP}`], { timeoutMs: 10_000 })).trim();
    return out === 'unreachable' ? out : Number(out);
  }

  /** One GET / through HAProxy on a fresh connection: which member's app answered. */
  async through(timeoutMs = 2000): Promise<Through> {
    try {
      const r = await get(`${this.haproxy.url}/`, timeoutMs);
      return r.status === 200 ? { ok: true, member: r.body.trim() } : { ok: false, status: r.status, error: `status ${r.status}` };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  marks(): Promise<Mark[]> { return readMarks(this.marksFile); }

  async intervals(now = Date.now()): Promise<Interval[]> { return activeIntervals(await this.marks(), now); }

  /** While on, `m`'s hook for `role` exits 1 (mark-hook.sh's fail switch). */
  async failHook(m: Member, role: Role, on = true): Promise<void> {
    const f = `${this.marksFile}.fail.${m}.${role}`;
    if (on) await writeFile(f, ''); else await unlink(f).catch(() => undefined);
  }

  /** `m`'s hook for `role` sleeps `ms` (undefined: back to the YAML's default). */
  async slowHook(m: Member, role: Role, ms: number | undefined): Promise<void> {
    const f = `${this.marksFile}.sleep.${m}.${role}`;
    if (ms !== undefined) await writeFile(f, String(ms)); else await unlink(f).catch(() => undefined);
  }

  // ---- partitions and etcd -----------------------------------------------------

  cut(host: LabHost): Promise<void> { return this.net.cut(host); }
  heal(host: LabHost): Promise<void> { return this.net.heal(host); }

  /** Takes etcd's quorum away: cuts (default; they run on, isolated) or SIGKILLs e2 and e3. */
  async stopEtcdQuorum(how: 'cut' | 'kill' = 'cut'): Promise<void> {
    if (this.quorumStoppedBy) throw new Error(`etcd quorum already stopped (${this.quorumStoppedBy})`);
    this.quorumStoppedBy = how;
    for (const h of QUORUM_VICTIMS) {
      if (how === 'cut') await this.net.cut(h); else await this.etcdMember(h).kill();
    }
  }

  /** Heals or restarts e2 and e3; resolves once the members agree on a leader (etcd.stable) and a write succeeds. */
  async restoreEtcdQuorum(timeoutMs = 20_000): Promise<void> {
    const how = this.quorumStoppedBy;
    this.quorumStoppedBy = undefined;
    for (const h of QUORUM_VICTIMS) {
      if (how === 'cut') await this.net.heal(h);
      // One at a time: the first restarted member already restores quorum with e1.
      else if (how === 'kill') await this.etcdMember(h).start();
    }
    const deadline = Date.now() + timeoutMs;
    await this.etcd.stable(timeoutMs);
    while (!(await this.etcdWritable())) {
      if (Date.now() > deadline) throw new Error(`etcd not writable ${timeoutMs} ms after restoring quorum`);
      await sleep(100);
    }
    this.reconnectEtcd();
  }

  /** Can a write reach a quorum within `deadlineMs`? A fresh client each time (etcd3's circuit breaker would hide a recovery). */
  async etcdWritable(deadlineMs = 1000): Promise<boolean> {
    const c = this.newEtcdClient();
    try {
      await c.put(`${this.prefix}-lab/probe`).value(String(Date.now())).options({ deadline: Date.now() + deadlineMs });
      return true;
    } catch { return false; } finally { c.close(); }
  }

  /** A new client for the test process, the old one closed (after etcd was unreachable). */
  reconnectEtcd(): Etcd3 {
    this.client?.close();
    this.client = this.newEtcdClient();
    return this.client;
  }

  private newEtcdClient(): Etcd3 { return new Etcd3({ hosts: this.etcd.endpoints, dialTimeout: 1000 }); }

  private etcdMember(h: EtcdHost) { return this.etcd.members[ETCD_HOSTS.indexOf(h)]; }

  // ---- clean-up --------------------------------------------------------------------

  /** Kills everything by PID (frozen and cut processes too), deletes the namespaces and, unless VIGIL_LAB_KEEP, the temp dir. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const errors: unknown[] = [];
      const step = async (f: () => Promise<unknown> | undefined): Promise<void> => { try { await f(); } catch (err) { errors.push(err); } };
      await Promise.all(Object.values(this.agents).map((a) => step(() => a.kill('SIGKILL'))));
      await Promise.all(MEMBERS.map((m) => step(() => this.killApp(m))));
      this.client?.close();
      await Promise.all([step(() => this.haproxy?.stop()), step(() => this.etcd?.stop())]);
      await step(() => this.net.stop());
      if (!process.env.VIGIL_LAB_KEEP) await step(() => rm(this.dir, { recursive: true, force: true }));
      process.off('exit', this.onExit);
      if (errors.length) throw new AggregateError(errors, 'group lab: clean-up had errors');
    })();
    return this.stopped;
  }
}
