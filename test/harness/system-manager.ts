// A real systemd SYSTEM manager for tests: /lib/systemd/systemd --system as
// PID 1 of new PID, mount, cgroup, network, UTS and IPC namespaces, on a
// throw-away overlay of / (test/harness/system-manager.sh does the booting).
// Unlike the user manager of systemd.ts, a unit runs here exactly as on a
// real machine: User=, every Protect*=, Private*=, the notify socket, the
// watchdog, `systemctl enable --now` from a package's postinst.
//
// What it must not do to the host, and how it does not:
// - writes (dpkg -i, useradd, systemd-tmpfiles emptying /tmp, journald) go to
//   the overlay's upper dir, a tmpfs mounted only inside the private mount
//   namespace, with fresh tmpfs /run and /tmp, proc, read-only sysfs, cgroup2
//   and a minimal /dev;
// - it boots basic.target, not multi-user.target (which would start every
//   service enabled on this machine), and the script masks the units that
//   would change the host's kernel or disks from inside;
// - it has its own cgroup2 folder (vigil-sysmgr-<pid>-<n> under the cgroup2
//   tree), so it sees and manages nothing of the host's processes;
// - stop() powers it off (SIGKILL of its PID 1 if that hangs, which kills the
//   whole PID namespace), waits until the namespaces are gone and removes the
//   cgroup folders and the empty host directory. A test process that exits
//   without stop() kills it from an exit hook; one killed outright takes it
//   along (parent-death signal), and the next start sweeps the empty cgroup
//   folder and host directory such a process left.
//
//   const sm = await startSystemManager();
//   try { await sm.run('systemctl', ['is-system-running']); } finally { await sm.stop(); }
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rm, rmdir, writeFile as fsWriteFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { requireBinary } from './require-binary.js';

export interface RunResult { code: number; stdout: string; stderr: string }

export interface SystemManager {
  /** Host PID of the manager (PID 1 inside). */
  pid: number;
  /** Runs cmd inside every namespace of the manager (nsenter -a), as root, with a clean environment. */
  run(cmd: string, args?: string[], opts?: { timeoutMs?: number; input?: string | Buffer }): Promise<RunResult>;
  /** systemctl show UNIT -p ...: the properties as an object. */
  show(unit: string, props: string[]): Promise<Record<string, string>>;
  /** The host path of `path` inside the booted system (/proc/<pid>/root/...). */
  hostPath(path: string): string;
  /** Writes a file inside the booted system (its overlay), making parent directories. */
  writeFile(path: string, data: string | Buffer, mode?: number): Promise<void>;
  /** The manager's console output so far (for failure messages). */
  log(): Promise<string>;
  stop(): Promise<void>;
}

const SYSTEMD = '/lib/systemd/systemd';
const SCRIPT = new URL('./system-manager.sh', import.meta.url).pathname;
const PREFIX = 'vigil-sysmgr-';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;

/** The cgroup2 tree: unified/ on a hybrid layout (this machine), else /sys/fs/cgroup itself. */
function cgroup2Root(): string {
  if (existsSync('/sys/fs/cgroup/unified/cgroup.procs')) return '/sys/fs/cgroup/unified';
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return '/sys/fs/cgroup';
  throw new Error('no cgroup2 hierarchy: a system manager needs cgroup2 mounted at /sys/fs/cgroup/unified (hybrid) or /sys/fs/cgroup '
    + '(e.g. `mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified`)');
}

/** Everything this harness needs, or an Error saying what is missing and how to get it (call it first to fail fast). */
export function requireSystemManager(): { unshare: string; nsenter: string; setpriv: string; cgRoot: string } {
  if (process.getuid?.() !== 0) throw new Error('the system manager harness needs root (mount, unshare, cgroups)');
  const unshare = requireBinary('unshare', 'util-linux');
  const nsenter = requireBinary('nsenter', 'util-linux');
  const setpriv = requireBinary('setpriv', 'util-linux');
  requireBinary('pivot_root', 'util-linux');
  requireBinary('mount', 'mount');
  if (!existsSync(SYSTEMD)) throw new Error(`${SYSTEMD} not found: install it with \`apt-get install -y systemd\``);
  requireBinary('systemctl', 'systemd');
  if (!/\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'))) {
    throw new Error('the kernel has no overlay filesystem (not in /proc/filesystems): `modprobe overlay`, or a kernel with CONFIG_OVERLAY_FS');
  }
  if (!existsSync(SCRIPT)) throw new Error(`${SCRIPT} is missing`);
  return { unshare, nsenter, setpriv, cgRoot: cgroup2Root() };
}

function procsOf(cg: string): number[] {
  try { return readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number); } catch { return []; }
}
function subdirsDeepestFirst(dir: string): string[] {
  const out: string[] = [];
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...subdirsDeepestFirst(join(dir, e.name)));
  } catch { /* gone */ }
  out.push(dir);
  return out;
}
function killCgroupSync(cg: string): void {
  for (const d of subdirsDeepestFirst(cg)) for (const p of procsOf(d)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
}
function cgroupEmpty(cg: string): boolean {
  return subdirsDeepestFirst(cg).every((d) => procsOf(d).length === 0);
}
/** rmdir the folder and everything systemd made under it; true when it is gone. */
function removeCgroupSync(cg: string): boolean {
  for (const d of subdirsDeepestFirst(cg)) { try { rmdirSync(d); } catch { /* busy or gone */ } }
  return !existsSync(cg);
}

// Managers not stopped when the test process exits (a crash, process.exit):
// SIGKILL their PID 1 (the whole PID namespace dies with it) and remove what we can, synchronously.
const live = new Map<string, { cg: string; dir: string; pids: () => number[] }>();
process.once('exit', () => {
  for (const { cg, dir, pids } of live.values()) {
    for (const p of pids()) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    killCgroupSync(cg);
    const until = Date.now() + 2000;
    while (!removeCgroupSync(cg) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* still mounted in a dying namespace */ }
  }
});

/** Folders of test processes that died without stop() (their PID is gone). */
async function sweepStale(cgRoot: string): Promise<void> {
  for (const name of await readdir(cgRoot).catch(() => [] as string[])) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!m || existsSync(`/proc/${m[1]}`)) continue;
    const cg = join(cgRoot, name);
    killCgroupSync(cg);
    for (let i = 0; i < 20 && !removeCgroupSync(cg); i++) await sleep(100);
  }
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m && !existsSync(`/proc/${m[1]}`)) await rm(join(tmpdir(), name), { recursive: true, force: true }).catch(() => undefined);
  }
}

function childPid(pid: number): number | undefined {
  try {
    const c = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return c.length ? Number(c[0]) : undefined;
  } catch { return undefined; }
}

export async function startSystemManager(opts: { bootTimeoutMs?: number } = {}): Promise<SystemManager> {
  const { unshare, nsenter, setpriv, cgRoot } = requireSystemManager();
  void unshare; // the script runs it by name; requireSystemManager() only proves it is there
  await sweepStale(cgRoot);

  const id = `${PREFIX}${process.pid}-${++seq}-${Date.now().toString(36)}`;
  const dir = await mkdtemp(join(tmpdir(), `${id}-`));
  const mnt = join(dir, 'mnt'); // the tmpfs goes over this, inside the namespace only
  await mkdir(mnt);
  const logFile = join(dir, 'console.log');
  const cg = join(cgRoot, id);
  await mkdir(cg);

  const log = await open(logFile, 'a');
  // --pdeathsig: a test process killed outright (SIGKILL, no exit hook) takes the
  // manager with it: unshare dies, and --kill-child makes that kill PID 1.
  const child: ChildProcess = spawn(setpriv, ['--pdeathsig', 'KILL', 'sh', SCRIPT, 'outer', cg, mnt], {
    stdio: ['ignore', log.fd, log.fd],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  await log.close();
  child.unref();
  child.once('error', () => undefined); // seen as "exited" below
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const running = () => child.exitCode === null && child.signalCode === null;
  let pid1: number | undefined;
  live.set(id, { cg, dir, pids: () => [pid1, child.pid].filter((p): p is number => p !== undefined) });

  const readLog = () => readFile(logFile, 'utf8').catch(() => '');
  const hostPath = (p: string) => `/proc/${pid1}/root${p.startsWith('/') ? p : `/${p}`}`;
  const run = (cmd: string, args: string[] = [], o: { timeoutMs?: number; input?: string | Buffer } = {}) => new Promise<RunResult>((resolve) => {
    if (pid1 === undefined) { resolve({ code: 1, stdout: '', stderr: 'system manager not started' }); return; }
    const p = execFile(nsenter, ['-t', String(pid1), '-a', cmd, ...args], {
      timeout: o.timeoutMs ?? 60_000, maxBuffer: 16 << 20,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive', SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' },
    }, (err, stdout, stderr) => resolve({
      code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) + (err && typeof err.code !== 'number' ? String(err.message) : ''),
    }));
    if (o.input !== undefined) p.stdin?.end(o.input); else p.stdin?.end();
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      if (pid1 !== undefined && running()) {
        await run('systemctl', ['--no-block', 'poweroff'], { timeoutMs: 10_000 });
        await Promise.race([exited, sleep(30_000)]);
      }
    } finally {
      // A manager that did not power off in time, or never booted: SIGKILL of PID 1 ends the PID namespace.
      for (const p of [pid1, child.pid]) { if (p !== undefined && running()) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } } }
      if (running()) await Promise.race([exited, sleep(10_000)]);
      for (let i = 0; i < 100 && !cgroupEmpty(cg); i++) { killCgroupSync(cg); await sleep(100); }
      for (let i = 0; i < 50 && !removeCgroupSync(cg); i++) await sleep(100);
      // The mount namespace (overlay, tmpfs) is gone with its last process; mnt is an empty host dir again.
      for (let i = 0; i < 50; i++) {
        try { await rmdir(mnt); break; } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') break; await sleep(100); }
      }
      await rm(dir, { recursive: true, force: true });
      live.delete(id);
      const left: string[] = [];
      if (existsSync(cg)) left.push(`cgroup ${cg}`);
      if (existsSync(dir)) left.push(`directory ${dir}`);
      if (left.length) throw new Error(`system manager left ${left.join(', ')} behind`);
    }
  };

  try {
    const deadline = Date.now() + (opts.bootTimeoutMs ?? 60_000);
    // PID 1 of the namespace is unshare's child; it runs the script, then execs systemd.
    while (Date.now() < deadline && running()) {
      const c = childPid(child.pid!);
      if (c !== undefined && readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'systemd') { pid1 = c; break; }
      await sleep(50);
    }
    if (pid1 === undefined) throw new Error('systemd did not start');
    // "running" (or "degraded": some unit failed) once the boot jobs are done.
    let state = '';
    while (Date.now() < deadline && running()) {
      state = (await run('systemctl', ['is-system-running'], { timeoutMs: 5_000 })).stdout.trim();
      if (state === 'running' || state === 'degraded') break;
      await sleep(200);
    }
    if (state !== 'running' && state !== 'degraded') throw new Error(`system state "${state}" after the boot timeout`);
  } catch (e) {
    const out = await readLog();
    await stop().catch(() => undefined);
    throw new Error(`the system manager did not boot: ${(e as Error).message}\n--- console ---\n${out.slice(-4000)}`);
  }

  return {
    pid: pid1!,
    run,
    async show(unit, props) {
      const r = await run('systemctl', ['show', unit, ...props.map((p) => `--property=${p}`)], { timeoutMs: 10_000 });
      const out: Record<string, string> = {};
      for (const line of r.stdout.split('\n')) {
        const i = line.indexOf('=');
        if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
      }
      return out;
    },
    hostPath,
    async writeFile(path, data, mode = 0o644) {
      await mkdir(dirname(hostPath(path)), { recursive: true });
      await fsWriteFile(hostPath(path), data, { mode });
    },
    log: readLog,
    stop,
  };
}
