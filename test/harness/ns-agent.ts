// One vigil agent process inside a host's network namespace (netns.ts), for
// labs with real partitions (the partition lab's MySQL failover, the group
// lab's active/standby groups). A cut host's agent is cut off with its host
// (from etcd, from the other hosts) but still reaches what runs on its own
// address. The agent listens on the namespace address; the test reaches
// /healthz, /status and the admin API through the lab's root veth, so those
// calls fail while the host is cut.
import { type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetLab } from './netns.js';
import { sleep } from '../helpers/wait.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const AGENT_PORT = 9817;
export const ADMIN_PORT = 9818;

export interface NsAgentOptions {
  /** The port of agent.listen in the YAML (default 9817). */
  readonly agentPort?: number;
  /** The port of admin.listen in the YAML (default 9818). */
  readonly adminPort?: number;
  /** How long start() waits for /healthz (default 60 s: a loaded 2-core machine starts tsx slowly). */
  readonly startTimeoutMs?: number;
}

/** One agent process in its host's namespace; `name` is the lab host it runs on. */
export class NsAgent {
  child: ChildProcess | undefined;
  readonly configFile: string;
  readonly logFile: string;
  readonly url: string;
  readonly adminUrl: string;
  private readonly startTimeoutMs: number;

  constructor(readonly name: string, private readonly net: NetLab, readonly dir: string, readonly stateDir: string,
    private readonly token: string, opts: NsAgentOptions = {}) {
    this.configFile = join(dir, `${name}.yaml`);
    this.logFile = join(dir, `${name}.log`);
    this.url = `http://${net.addr(name)}:${opts.agentPort ?? AGENT_PORT}`;
    this.adminUrl = `http://${net.addr(name)}:${opts.adminPort ?? ADMIN_PORT}`;
    this.startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  }

  running(): boolean { return !!this.child && this.child.exitCode === null && this.child.signalCode === null; }

  pid(): number | undefined { return this.running() ? this.child?.pid : undefined; }

  /**
   * Writes the YAML, starts the agent and waits for /healthz (through the root
   * veth: the host must not be cut). An agent that exits first (a config it
   * rejects) fails start() at once with its log tail, not after the timeout.
   */
  async start(yaml: string): Promise<void> {
    if (this.running()) throw new Error(`${this.name}'s agent is already running`);
    await writeFile(this.configFile, yaml);
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = this.net.spawn(this.name, process.execPath,
        ['--import', 'tsx', 'src/bin.ts', 'run', '--config', this.configFile], { cwd: REPO_ROOT, stdio: ['ignore', fd, fd] });
      this.child = child;
    } finally { closeSync(fd); }
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const log = await readFile(this.logFile, 'utf8').catch(() => '');
        throw new Error(`${this.name}'s agent exited (${child.exitCode ?? child.signalCode}) before /healthz answered; log tail:\n${log.slice(-2000)}`);
      }
      const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      if (res?.ok) return;
      if (Date.now() > deadline) throw new Error(`${this.name}'s agent: /healthz did not answer within ${this.startTimeoutMs} ms (log: ${this.logFile})`);
      await sleep(100);
    }
  }

  /** The last `n` lines of the agent's log, each cut to 300 characters: for a failure message. */
  async logTail(n: number): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text.trimEnd().split('\n').slice(-n).map((l) => l.slice(0, 300)).join('\n');
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
