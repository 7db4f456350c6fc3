// The fleet lab: a real etcd, vigil agents as separate processes (each its own
// config, state_dir and port, `node --import tsx src/bin.ts run`), and one
// HTTP server in the test process that every agent's `api` probe asks at
// /h/<member>: the test switches each member's answer between 200 and 500,
// so "all five fail at once" is one call. The agents' exec action is
// mark-action.sh writing to one shared marks file; marks() reads it.
// Shared by fleet-lab.test.ts and fleet-asg.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { freePort } from '../harness/ports.js';
import { REPO } from '../helpers/agent.js';
import { waitUntil } from '../helpers/wait.js';

export const MARK_SCRIPT = fileURLToPath(new URL('./mark-action.sh', import.meta.url));

export interface Mark { readonly at: number; readonly member: string; readonly rule: string; readonly phase: 'start' | 'end'; readonly pid: number; readonly intent: string }
export interface Interval { readonly member: string; readonly rule: string; readonly start: number; readonly end: number | undefined; readonly pid: number; readonly intent: string }

export function parseMarks(text: string): Mark[] {
  return text.split('\n').slice(0, -1).map((l, i) => {
    const m = /^(\d{13}) (\S+) (\S+) (start|end) (\d+) (\S+)$/.exec(l);
    if (!m) throw new Error(`marks line ${i + 1} is malformed: ${JSON.stringify(l)}`);
    return { at: Number(m[1]), member: m[2], rule: m[3], phase: m[4] as Mark['phase'], pid: Number(m[5]), intent: m[6] };
  });
}

/** One interval per action (matched by pid), in start order; `end` undefined while it runs (or was killed). */
export function intervals(marks: readonly Mark[]): Interval[] {
  const out: Interval[] = [];
  for (const m of marks) {
    if (m.phase === 'start') out.push({ member: m.member, rule: m.rule, start: m.at, end: undefined, pid: m.pid, intent: m.intent });
    else {
      const i = out.findIndex((x) => x.pid === m.pid && x.end === undefined);
      if (i >= 0) out[i] = { ...out[i], end: m.at };
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

export interface AgentYaml {
  readonly member: string;
  readonly port: number;
  readonly stateDir: string;
  readonly etcd: readonly string[];
  readonly prefix: string;
  readonly probeUrl: string;
  /** The `remediations:` list, indented as its items. */
  readonly remediations: string;
  readonly leaseTtl?: string;
}

export function agentYaml(o: AgentYaml): string {
  return `agent:
  listen: 127.0.0.1:${o.port}
  log_level: debug
  state_dir: ${o.stateDir}
  startup_grace: 0s
  action_budget: { max_actions: 100 }
coordination:
  etcd: { endpoints: ${JSON.stringify(o.etcd)}, prefix: ${o.prefix}, request_timeout: 1s, dial_timeout: 1s }
  member_name: ${o.member}
  lease_ttl: ${o.leaseTtl ?? '2s'}
probes:
  - name: api
    type: http
    url: ${o.probeUrl}
    interval: 250ms
    timeout: 200ms
    failures_before_critical: 2
remediations:
${o.remediations}`;
}

export class LabAgent {
  child: ChildProcess | undefined;
  port = 0;
  readonly configFile: string;
  readonly logFile: string;
  readonly stateDir: string;

  constructor(readonly name: string, private readonly lab: FleetLab) {
    this.configFile = join(lab.dir, `${name}.yaml`);
    this.logFile = join(lab.dir, `${name}.log`);
    this.stateDir = join(lab.dir, `state-${name}`);
  }

  running(): boolean { return !!this.child && this.child.exitCode === null && this.child.signalCode === null; }

  async start(yaml: string): Promise<void> {
    if (this.running()) throw new Error(`${this.name} is already running`);
    await writeFile(this.configFile, yaml);
    const fd = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin.ts', 'run', '--config', this.configFile], { cwd: REPO, env: this.lab.env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.child = child;
    this.lab.children.add(child);
    child.once('exit', () => this.lab.children.delete(child));
    await waitUntil(`${this.name} up`, async () => {
      if (!this.running()) throw new Error(`${this.name} exited: ${(await readFile(this.logFile, 'utf8')).slice(-2000)}`);
      return (await fetch(`http://127.0.0.1:${this.port}/healthz`).catch(() => undefined))?.ok;
    }, { timeoutMs: 60_000, intervalMs: 100 });
  }

  /** Rewrites the config and sends SIGHUP; resolves once the agent says the reload succeeded. */
  async reload(yaml: string): Promise<void> {
    const before = (await this.status()).agent.last_reload.time as string;
    await writeFile(this.configFile, yaml);
    this.child!.kill('SIGHUP');
    await waitUntil(`${this.name} reloaded`, async () => {
      const r = (await this.status()).agent.last_reload;
      if (r.problems.length) throw new Error(`${this.name}: reload refused: ${JSON.stringify(r.problems)}`);
      return r.successful && r.time !== before;
    }, { timeoutMs: 15_000, intervalMs: 50 });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || !this.running()) return;
    c.kill(signal);
    await once(c, 'exit');
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- /status is JSON the tests walk
  async status(): Promise<any> {
    return (await fetch(`http://127.0.0.1:${this.port}/status`)).json();
  }

  /** The rule's last decision from /status, or undefined. */
  async decision(rule: string): Promise<{ kind: string; reason?: string; detail: string } | undefined> {
    return (await this.status()).remediation.rules[rule]?.last_decision ?? undefined;
  }

  /** Sum of the metric's series whose labels include `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- journal lines are JSON the tests walk
  async journal(): Promise<any[]> {
    const text = await readFile(join(this.stateDir, 'remediation-journal.jsonl'), 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }
}

export class FleetLab {
  readonly children = new Set<ChildProcess>();
  readonly agents = new Map<string, LabAgent>();
  readonly marksFile: string;
  readonly client: Etcd3;
  /** Members whose /h/<member> answers 500. */
  readonly failing = new Set<string>();
  env: NodeJS.ProcessEnv = { ...process.env };
  private readonly onExit = () => {
    for (const c of this.children) c.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  };

  private constructor(readonly dir: string, readonly etcd: EtcdCluster, private readonly server: Server, readonly prefix: string) {
    this.marksFile = join(dir, 'marks');
    this.client = new Etcd3({ hosts: etcd.endpoints });
    process.on('exit', this.onExit);
  }

  static async start(): Promise<FleetLab> {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-fleet-lab-'));
    let lab: FleetLab | undefined;
    const server = createServer((req, res) => {
      const member = /^\/h\/([\w-]+)$/.exec(req.url ?? '')?.[1] ?? '';
      res.statusCode = lab?.failing.has(member) ? 500 : 200;
      res.end(res.statusCode === 200 ? 'ok' : 'failing');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const etcd = await startEtcd({ nodes: 1 }).catch(async (err: unknown) => { server.close(); await rm(dir, { recursive: true, force: true }); throw err; });
    lab = new FleetLab(dir, etcd, server, `/fleet-lab-${process.pid}`);
    return lab;
  }

  get probeBase(): string { return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/h/`; }

  async agent(name: string): Promise<LabAgent> {
    let a = this.agents.get(name);
    if (!a) {
      a = new LabAgent(name, this);
      a.port = await freePort();
      this.agents.set(name, a);
    }
    return a;
  }

  /** The YAML of `name`'s agent with these remediations. */
  yaml(a: LabAgent, remediations: string, leaseTtl?: string): string {
    return agentYaml({ member: a.name, port: a.port, stateDir: a.stateDir, etcd: this.etcd.endpoints, prefix: this.prefix, probeUrl: this.probeBase + a.name, remediations, leaseTtl });
  }

  /** Every member's probe passing again, then every running agent reloaded onto `remediations(agent)`. */
  async nextScenario(agents: readonly LabAgent[], remediations: (a: LabAgent) => string): Promise<void> {
    this.failing.clear();
    await Promise.all(agents.map((a) => waitUntil(`${a.name}: api passing`, async () => (await a.status()).probes.api.state === 'passing', { timeoutMs: 10_000 })));
    await Promise.all(agents.filter((a) => a.running()).map((a) => a.reload(this.yaml(a, remediations(a)))));
  }

  async marks(): Promise<Mark[]> {
    try {
      return parseMarks(await readFile(this.marksFile, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** The slot key's holder (member name), or undefined when nobody holds it. */
  async slotHolder(fleet: string, index = 0): Promise<string | undefined> {
    const raw = await this.client.get(`${this.prefix}/fleets/${fleet}/slots/${index}`).string();
    return raw ? (JSON.parse(raw) as { holder: string }).holder : undefined;
  }

  /** Kills every agent and what their actions left running, stops etcd and the server, removes the directory. */
  async stop(): Promise<void> {
    for (const a of this.agents.values()) await a.kill('SIGKILL');
    for (const m of await this.marks().catch(() => [])) { try { process.kill(-m.pid, 'SIGKILL'); } catch { /* gone */ } }
    this.client.close();
    await this.etcd.stop();
    this.server.closeAllConnections();
    this.server.close();
    process.off('exit', this.onExit);
    if (!process.env.VIGIL_LAB_KEEP) await rm(this.dir, { recursive: true, force: true });
  }
}
