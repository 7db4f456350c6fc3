// A real systemd USER manager (with its own D-Bus session bus) for tests.
// PID 1 on these machines is not systemd, so `systemctl` alone fails with
// "System has not been booted with systemd". The user manager runs fine in a
// private mount namespace where /run/systemd/system exists (systemd's
// "booted" marker) and it owns a cgroup folder of its own.
//
// Connecting dbus-next to this manager's bus (what the agent's code does):
//   import dbus from 'dbus-next';
//   const bus = dbus.sessionBus({ busAddress: um.busAddress }); // unix:path=<runtimeDir>/bus
//   const obj = await bus.getProxyObject('org.freedesktop.systemd1', '/org/freedesktop/systemd1');
//   const mgr = obj.getInterface('org.freedesktop.systemd1.Manager');
//   await mgr.Subscribe();            // systemd emits JobRemoved etc. only to subscribers
//   mgr.on('JobRemoved', (id, job, unit, result) => ...);   // result 'done' on success
//   const job = await mgr.RestartUnit('demo.service', 'replace'); // object path of the job
//   ...; bus.disconnect();
// Always pass busAddress: without it dbus-next falls back to the env var and
// then to X11 lookups. Authentication is EXTERNAL as uid 0, which the bus accepts.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, open, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './require-binary.js';

export interface SystemctlResult { code: number; stdout: string; stderr: string }

export interface UserManager {
  pid: number;
  runtimeDir: string;
  /** XDG_CONFIG_HOME; unit files go to unitDir = configDir/systemd/user */
  configDir: string;
  unitDir: string;
  busAddress: string;
  env: { XDG_RUNTIME_DIR: string; DBUS_SESSION_BUS_ADDRESS: string };
  writeUnit(name: string, content: string): Promise<void>;
  systemctl(...args: string[]): Promise<SystemctlResult>;
  show(unit: string, props: string[]): Promise<Record<string, string>>;
  waitActive(unit: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const SYSTEMD = '/lib/systemd/systemd';
const CGROOT = '/sys/fs/cgroup';
let seq = 0;
// Managers not stopped when the test process exits (a crash, process.exit):
// kill the manager and everything in its cgroups, synchronously, by PID.
const live = new Map<ChildProcess, { cgDirs: string[]; dir: string }>();
process.once('exit', () => {
  for (const [child, { cgDirs, dir }] of live) {
    child.kill('SIGKILL');
    for (const cg of cgDirs) killTreeSync(cg);
    rmSync(dir, { recursive: true, force: true });
  }
});
function killTreeSync(dir: string): void {
  try {
    for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
    }
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) killTreeSync(join(dir, e.name));
  } catch { /* cgroup already gone */ }
}

// Runs as `unshare --mount sh -c SCRIPT sh CGDIRS RUNTIME CONFIG NODE`; $$ is the
// shell that execs systemd, so the manager starts inside its own cgroups.
// /run/systemd/inaccessible/*: a unit's namespace hides a path (ProtectHome=,
// ProtectKernelTunables=, ProtectKernelLogs=, InaccessiblePaths=) by bind-mounting
// one of these mode-000 nodes over it. PID 1 creates them at boot; a manager whose
// euid is 0, a user manager too, looks for them there (not under its runtime dir),
// so without them such a unit fails with 226/NAMESPACE: "Failed to mount
// /run/systemd/inaccessible/dir to /run/systemd/unit-root/home: No such file or
// directory". The same set systemd makes; the socket by Node (no shell command does).
const SCRIPT = `set -e
mount --make-rprivate /
mount -t tmpfs -o mode=755 tmpfs /run/systemd
mkdir /run/systemd/system
i=/run/systemd/inaccessible
mkdir -m 755 $i; mkdir -m 000 $i/dir; install -m 000 /dev/null $i/reg; mkfifo -m 000 $i/fifo
mknod -m 000 $i/chr c 0 0; mknod -m 000 $i/blk b 0 0
"$4" -e 'require("net").createServer().listen(process.argv[1], () => process.exit(0))' $i/sock; chmod 000 $i/sock
for d in $1; do mkdir -p "$d"; echo $$ > "$d/cgroup.procs"; done
export XDG_RUNTIME_DIR="$2" XDG_CONFIG_HOME="$3"
exec ${SYSTEMD} --user`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Hybrid layout (this machine): the named v1 "systemd" tree plus cgroup2 at unified/. */
function cgroupDirs(name: string): string[] {
  if (existsSync(join(CGROOT, 'unified'))) return [join(CGROOT, 'systemd', name), join(CGROOT, 'unified', name)];
  return [join(CGROOT, name)];
}

async function subdirsDeepestFirst(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) out.push(...(await subdirsDeepestFirst(join(dir, e.name))));
  }
  out.push(dir);
  return out;
}

/** rmdir cgroup folders left by test processes that died without stop(). */
async function sweepStale(): Promise<void> {
  const roots = existsSync(join(CGROOT, 'unified')) ? [join(CGROOT, 'systemd'), join(CGROOT, 'unified')] : [CGROOT];
  for (const root of roots) {
    for (const name of await readdir(root).catch(() => [] as string[])) {
      const m = /^vigil-test-(\d+)-/.exec(name);
      if (!m || existsSync(`/proc/${m[1]}`)) continue;
      killTreeSync(join(root, name));
      for (const d of await subdirsDeepestFirst(join(root, name))) await rmdir(d).catch(() => undefined);
    }
  }
}

export async function startUserManager(): Promise<UserManager> {
  const systemctlBin = requireBinary('systemctl', 'systemd');
  const unshare = requireBinary('unshare', 'util-linux');
  await access(SYSTEMD).catch(() => { throw new Error(`${SYSTEMD} not found: install it with \`apt-get install -y systemd\``); });
  // dbus.socket is the user unit that gives the manager its session bus.
  await access('/usr/lib/systemd/user/dbus.socket').catch(() => {
    throw new Error('user dbus.socket not found: install it with `apt-get install -y dbus-user-session`');
  });

  await sweepStale();
  const dir = await mkdtemp(join(tmpdir(), 'vigil-systemd-'));
  const runtimeDir = join(dir, 'xdg');
  const configDir = join(dir, 'cfg');
  const unitDir = join(configDir, 'systemd', 'user');
  await mkdir(runtimeDir);
  await chmod(runtimeDir, 0o700); // systemd refuses a runtime dir others can read
  await mkdir(unitDir, { recursive: true });
  // Unique per instance: a test run may start several managers, or crash and leave one.
  const cgDirs = cgroupDirs(`vigil-test-${process.pid}-${++seq}-${Date.now().toString(36)}`);
  const busAddress = `unix:path=${runtimeDir}/bus`;
  const env = { XDG_RUNTIME_DIR: runtimeDir, DBUS_SESSION_BUS_ADDRESS: busAddress };

  const logFile = join(dir, 'manager.log');
  const log = await open(logFile, 'a');
  const child = spawn(unshare, ['--mount', 'sh', '-c', SCRIPT, 'sh', cgDirs.join(' '), runtimeDir, configDir, process.execPath], {
    stdio: ['ignore', log.fd, log.fd],
    env: { ...process.env, ...env },
  });
  await log.close();
  live.set(child, { cgDirs, dir });
  child.unref(); // a test that forgets stop() can still end; the exit hook then kills it
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.once('error', () => undefined); // reported by the startup timeout below
  const running = () => child.exitCode === null && child.signalCode === null;

  const systemctl = (...args: string[]) => new Promise<SystemctlResult>((resolve) => {
    execFile(systemctlBin, ['--user', ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });

  const show = async (unit: string, props: string[]) => {
    const r = await systemctl('show', unit, '-p', props.join(','));
    if (r.code !== 0) throw new Error(`systemctl show ${unit} failed: ${r.stderr}`);
    const out: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  };

  const stop = async () => {
    child.ref(); // keep the loop alive until the exit event arrives
    if (running()) {
      await systemctl('exit'); // stops every unit, then the manager exits (~1 s)
      // unref'd so a quick exit does not hold the test process open for 5 s
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
      if (running()) child.kill('SIGKILL');
      await exited;
    }
    // Anything still in the manager's cgroups was started by it: kill by PID.
    for (let attempt = 0; attempt < 50; attempt++) {
      let busy = false;
      for (const cg of cgDirs) {
        for (const d of await subdirsDeepestFirst(cg)) {
          const procs = (await readFile(join(d, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
          for (const p of procs) { busy = true; try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ } }
          if (!procs.length) await rmdir(d).catch(() => { busy = existsSync(d); });
        }
      }
      if (!busy && cgDirs.every((d) => !existsSync(d))) break;
      await sleep(100);
    }
    live.delete(child); // only now: its units may outlive a crashed manager
    await rm(dir, { recursive: true, force: true });
  };

  const um: UserManager = {
    pid: child.pid ?? -1, runtimeDir, configDir, unitDir, busAddress, env,
    systemctl, show, stop,
    async writeUnit(name, content) {
      await writeFile(join(unitDir, name), content);
      const r = await systemctl('daemon-reload');
      if (r.code !== 0) throw new Error(`daemon-reload failed: ${r.stderr}`);
    },
    async waitActive(unit, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await systemctl('is-active', unit);
        if (r.stdout.trim() === 'active') return;
        if (Date.now() > deadline) {
          const st = await systemctl('status', '--no-pager', unit);
          throw new Error(`${unit} not active after ${timeoutMs} ms (${r.stdout.trim()}):\n${st.stdout}${st.stderr}`);
        }
        await sleep(50);
      }
    },
  };

  try {
    // is-system-running says "offline" from outside the namespace; SystemState does not.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = running() ? await systemctl('show', '-p', 'SystemState', '--value') : undefined;
      const state = r?.stdout.trim();
      if ((state === 'running' || state === 'degraded') && existsSync(join(runtimeDir, 'bus'))) break;
      if (!running() || Date.now() > deadline) {
        const text = await readFile(logFile, 'utf8').catch(() => '');
        throw new Error(`systemd --user did not come up (state=${state}, running=${running()}):\n${text.slice(-2000)}`);
      }
      await sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return um;
}
