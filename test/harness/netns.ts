// Real network partitions for tests: every host gets its own Linux network
// namespace and address, joined by a bridge that lives in a namespace of its
// own. Cutting a host takes ITS bridge port down, so the host is cut off in
// both directions from everyone (the test process included) while its
// processes keep running and still reach each other through the host's own
// address. A proxy in front of a server cannot do that: it only cuts the
// connections that happen to go through it.
//
//   const lab = await startNetLab({ hosts: ['a', 'b'] });
//   after(() => lab.stop());                  // idempotent
//   lab.spawn('a', 'node', ['server.js']);    // runs inside a's namespace
//   await lab.cut('a'); await lab.heal('a');
//
// The test process reaches every host through a veth of its own from the
// root namespace into the bridge (address .1). Each run uses a random name
// prefix (v<4 hex>) and a random /24 in 10.213.0.0/16 that nothing on the
// machine uses. Clean-up: stop() kills what spawn() started and every other
// process still inside the lab's namespaces (they exist only for this run),
// then deletes the namespaces and the root veth; a process 'exit' hook does
// the same synchronously, and a run killed with SIGKILL is swept by the next
// startNetLab (a file per lab under /run/vigil-netns names its owner's PID).
// `ip netns exec` execs the command in place, so a child's PID is the
// command's own PID (SIGSTOP/SIGKILL by PID reach the real process).
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from './require-binary.js';

export type Wrap = (cmd: string, args: string[]) => [string, string[]];

export interface NetLab {
  /** Unique per run, e.g. "v3fa2"; every namespace name starts with it. */
  readonly prefix: string;
  /** e.g. "10.213.42.0/24". */
  readonly subnet: string;
  /** MySQL-style host pattern for the subnet, e.g. "10.213.42.%". */
  readonly subnetPattern: string;
  /** The test process's own address in the subnet (the root veth). */
  readonly rootAddr: string;
  readonly hosts: readonly string[];
  addr(host: string): string;
  /** The namespace name of `host`. */
  ns(host: string): string;
  /** A command rewriter that runs `cmd` inside `host` (for harnesses that spawn themselves). */
  wrap(host: string): Wrap;
  /** Runs `cmd args…` inside `host`; the lab SIGKILLs it in stop(). */
  spawn(host: string, cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Runs `cmd args…` inside `host` to completion; resolves with its stdout. */
  exec(host: string, cmd: string, args: readonly string[], opts?: { timeoutMs?: number }): Promise<string>;
  /** Takes host's bridge port down: no packet in or out, for anyone. */
  cut(host: string): Promise<void>;
  heal(host: string): Promise<void>;
  isCut(host: string): boolean;
  /** PIDs of every process inside host's namespace now. */
  pids(host: string): number[];
  /** Kills every process in the lab's namespaces, deletes them and the root veth. Idempotent. */
  stop(): Promise<void>;
}

const REGISTRY = '/run/vigil-netns';
const HOST_RE = /^[a-z0-9]{1,8}$/;
const pexec = promisify(execFile);

/** SIGSTOP every PID (a frozen host: alive, silent, its sockets open). */
export function freeze(pids: readonly number[]): void {
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
}

export function thaw(pids: readonly number[]): void {
  for (const pid of pids) {
    try { process.kill(pid, 'SIGCONT'); } catch { /* exited meanwhile */ }
  }
}

interface Names { namespaces: string[]; rootVeth: string }

/** PIDs of every process inside namespace `ns` (none if it is gone). */
function nsPidsSync(ipBin: string, ns: string): number[] {
  try {
    return execFileSync(ipBin, ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').filter(Boolean).map(Number);
  } catch { return []; }
}

/** Synchronous and never throws: used by stop(), the exit hook and the sweep. */
function destroySync(ipBin: string, names: Names): void {
  for (const ns of names.namespaces) {
    for (const pid of nsPidsSync(ipBin, ns)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
  // Deleting the bridge namespace frees its veths only later (asynchronously): delete the root end now.
  try { execFileSync(ipBin, ['link', 'del', names.rootVeth], { stdio: 'ignore' }); } catch { /* already gone */ }
  for (const ns of names.namespaces) {
    try { execFileSync(ipBin, ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* already gone */ }
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Deletes the namespaces of labs whose test process died without cleaning up (SIGKILL). */
function sweepStale(ipBin: string): void {
  let files: string[] = [];
  try { files = readdirSync(REGISTRY); } catch { return; }
  for (const f of files) {
    try {
      const entry = JSON.parse(readFileSync(join(REGISTRY, f), 'utf8')) as Names & { pid: number };
      if (alive(entry.pid)) continue;
      destroySync(ipBin, entry);
      rmSync(join(REGISTRY, f), { force: true });
    } catch { /* a half-written file of a lab starting right now: leave it */ }
  }
}

async function chooseSubnet(ipBin: string): Promise<number> {
  const used = (await pexec(ipBin, ['-o', 'addr'])).stdout + (await pexec(ipBin, ['route'])).stdout;
  for (let i = 0; i < 100; i++) {
    const third = randomInt(1, 251);
    if (!used.includes(`10.213.${third}.`)) return third;
  }
  throw new Error('netns: no free 10.213.x.0/24 subnet found');
}

export async function startNetLab(opts: { hosts: readonly string[] }): Promise<NetLab> {
  const ipBin = requireBinary('ip', 'iproute2');
  const setpriv = requireBinary('setpriv', 'util-linux');
  if (process.getuid?.() !== 0) {
    throw new Error('netns lab: network namespaces need root (run the tests as root); nothing was created');
  }
  for (const h of opts.hosts) {
    if (!HOST_RE.test(h)) throw new Error(`netns lab: host name "${h}" must match ${HOST_RE} (interface names are at most 15 characters)`);
  }
  if (new Set(opts.hosts).size !== opts.hosts.length) throw new Error('netns lab: host names must be distinct');
  if (opts.hosts.length > 200) throw new Error('netns lab: at most 200 hosts');
  sweepStale(ipBin);

  const prefix = `v${randomBytes(2).toString('hex')}`;
  const third = await chooseSubnet(ipBin);
  const net = `10.213.${third}`;
  const bridgeNs = `${prefix}br`;
  const rootVeth = `${prefix}root`;
  const hostNs = new Map(opts.hosts.map((h) => [h, `${prefix}${h}`]));
  const hostAddr = new Map(opts.hosts.map((h, i) => [h, `${net}.${10 + i}`]));
  const names: Names = { namespaces: [...hostNs.values(), bridgeNs], rootVeth };
  const children = new Set<ChildProcess>();
  const cutHosts = new Set<string>();
  const registryFile = join(REGISTRY, prefix);

  const ip = async (...args: string[]): Promise<void> => {
    try { await pexec(ipBin, args); } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`netns lab: \`ip ${args.join(' ')}\` failed: ${(e.stderr ?? e.message).trim()}`);
    }
  };
  const known = (host: string): string => {
    const ns = hostNs.get(host);
    if (!ns) throw new Error(`netns lab: unknown host "${host}" (hosts: ${opts.hosts.join(', ')})`);
    return ns;
  };
  const wrap = (host: string): Wrap => {
    const ns = known(host);
    // pdeathsig: the kernel kills the process if the test process dies unannounced.
    return (cmd, args) => [setpriv, ['--pdeathsig', 'KILL', '--', ipBin, 'netns', 'exec', ns, cmd, ...args]];
  };

  const onExit = (): void => {
    for (const c of children) c.kill('SIGKILL');
    destroySync(ipBin, names);
    rmSync(registryFile, { force: true });
  };
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const exits = [...children].map((c) => new Promise<void>((r) => {
        if (c.exitCode !== null || c.signalCode !== null) r(); else { c.once('exit', () => r()); c.kill('SIGKILL'); }
      }));
      await Promise.all(exits);
      destroySync(ipBin, names);
      rmSync(registryFile, { force: true });
      process.off('exit', onExit);
    })();
    return stopped;
  };

  process.on('exit', onExit);
  mkdirSync(REGISTRY, { recursive: true });
  writeFileSync(registryFile, JSON.stringify({ pid: process.pid, ...names }));
  try {
    await ip('netns', 'add', bridgeNs).catch((err: Error) => {
      throw new Error(`${err.message}\n(network namespaces need root and a kernel with CONFIG_NET_NS)`);
    });
    await ip('-n', bridgeNs, 'link', 'set', 'lo', 'up');
    await ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', bridgeNs, 'link', 'set', 'br0', 'up');
    for (const h of opts.hosts) {
      const ns = known(h);
      await ip('netns', 'add', ns);
      await ip('-n', bridgeNs, 'link', 'add', `p-${h}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('-n', bridgeNs, 'link', 'set', `p-${h}`, 'master', 'br0', 'up');
      await ip('-n', ns, 'addr', 'add', `${hostAddr.get(h)}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await ip('link', 'add', rootVeth, 'type', 'veth', 'peer', 'name', 'p-root', 'netns', bridgeNs);
    await ip('-n', bridgeNs, 'link', 'set', 'p-root', 'master', 'br0', 'up');
    await ip('addr', 'add', `${net}.1/24`, 'dev', rootVeth);
    await ip('link', 'set', rootVeth, 'up');
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    prefix,
    subnet: `${net}.0/24`,
    subnetPattern: `${net}.%`,
    rootAddr: `${net}.1`,
    hosts: [...opts.hosts],
    addr: (host) => { known(host); return hostAddr.get(host)!; },
    ns: known,
    wrap,
    spawn(host, cmd, args, spawnOpts = {}) {
      if (stopped) throw new Error('netns lab: already stopped');
      const [c, a] = wrap(host)(cmd, [...args]);
      const child = spawn(c, a, spawnOpts);
      children.add(child);
      child.once('exit', () => children.delete(child));
      child.once('error', () => children.delete(child));
      return child;
    },
    async exec(host, cmd, args, execOpts = {}) {
      const [c, a] = wrap(host)(cmd, [...args]);
      const { stdout } = await pexec(c, a, { timeout: execOpts.timeoutMs ?? 30_000, killSignal: 'SIGKILL' });
      return stdout;
    },
    async cut(host) {
      known(host);
      await ip('-n', bridgeNs, 'link', 'set', `p-${host}`, 'down');
      cutHosts.add(host);
    },
    async heal(host) {
      known(host);
      await ip('-n', bridgeNs, 'link', 'set', `p-${host}`, 'up');
      cutHosts.delete(host);
    },
    isCut: (host) => { known(host); return cutHosts.has(host); },
    pids: (host) => nsPidsSync(ipBin, known(host)),
    stop,
  };
}
