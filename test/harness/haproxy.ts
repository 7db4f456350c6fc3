// A real HAProxy (Debian's 2.6) in front of role endpoints, for tests and the
// takeover benchmark: a load balancer that health-checks each server on a
// separate check port/path (a vigil agent's `/role/<group>`) and sends traffic
// only to the servers whose check answers 200. No mock: what a group test
// proves is what a production HAProxy does with the agent's answers.
//
//   const h = await startHaproxy({ bind: { host: '127.0.0.1', port }, checkPath: '/role/web',
//     servers: [{ name: 'g1', addr: '10.213.7.10', port: 8080, checkPort: 9817 }] });
//   after(() => h.stop());
//   await h.serverStates();                  // { g1: 'UP' }
//
// Timing (why these numbers): checks every 250 ms, DOWN after 2 failures, UP
// after 1 success, so a server flips within ~0.5 s of its check answer
// changing; `timeout connect 500ms` and `timeout check 500ms` bound a check to
// a cut host (no RST, the SYN just vanishes), so a cut server is DOWN within
// ~1.5 s. Server states come from the stats socket (`show stat`), a unix
// socket on the shared filesystem, so it is readable from the test process
// even when HAProxy runs inside a network namespace (`wrap`).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../helpers/wait.js';
import type { Wrap } from './netns.js';
import { requireBinary } from './require-binary.js';

export interface HaproxyServer {
  /** The server's name in HAProxy (and the key in serverStates()). */
  readonly name: string;
  /** Where traffic goes: the app's address and port. */
  readonly addr: string;
  readonly port: number;
  /** Where the health check goes (default: `port`), e.g. the agent's 9817. */
  readonly checkPort?: number;
}

export interface HaproxyOptions {
  /** The frontend's listen address. */
  readonly bind: { readonly host: string; readonly port: number };
  /**
   * `option httpchk GET <checkPath>`, expecting status 200. One path for the
   * backend: HAProxy 2.6 sets the check request per backend, not per server.
   */
  readonly checkPath: string;
  readonly servers: readonly HaproxyServer[];
  /** Runs HAProxy elsewhere, e.g. inside a lab host's namespace (netns.ts `wrap(host)`). */
  readonly wrap?: Wrap;
  /** Check interval (default 250ms); fall/rise stay 2/1. */
  readonly inter?: string;
}

/** HAProxy's `status` column: 'UP', 'DOWN', or a transition such as 'UP 1/2' (one failed check of two), 'MAINT', 'no check'. */
export type ServerState = 'UP' | 'DOWN' | (string & {});

export interface Haproxy {
  /** http://<bind host>:<port> — the frontend. */
  readonly url: string;
  readonly configFile: string;
  readonly pid: number;
  /** Every backend server's current state, by name. */
  serverStates(): Promise<Record<string, ServerState>>;
  /** Resolves once every named server is in the given state (bounded wait). */
  waitStates(want: Readonly<Record<string, ServerState>>, timeoutMs?: number): Promise<void>;
  /** HAProxy's stderr so far: server UP/DOWN transitions with ISO timestamps, alerts. */
  log(): Promise<string>;
  /** SIGKILL, wait for the exit, delete the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const NAME_RE = /^[A-Za-z0-9_.-]+$/;

/** The whole config; pure, so the shape is easy to see and to check with `haproxy -c`. */
export function haproxyConfig(o: HaproxyOptions, statsSocket: string): string {
  for (const s of o.servers) if (!NAME_RE.test(s.name)) throw new Error(`haproxy: server name "${s.name}" must match ${NAME_RE}`);
  if (!o.checkPath.startsWith('/') || /\s/.test(o.checkPath)) throw new Error(`haproxy: checkPath "${o.checkPath}" must start with / and contain no spaces`);
  const servers = o.servers.map((s) =>
    `  server ${s.name} ${s.addr}:${s.port} check${s.checkPort !== undefined && s.checkPort !== s.port ? ` port ${s.checkPort}` : ''}`);
  return `global
  # admin level: a test may also disable/enable servers through it.
  stats socket ${statsSocket} mode 600 level admin
  # ISO timestamps on every state change, comparable with the lab's ms marks.
  log stderr format iso local0 info

defaults
  mode http
  log global
  timeout connect 500ms
  timeout client 10s
  timeout server 10s
  timeout check 500ms

frontend fe
  bind ${o.bind.host}:${o.bind.port}
  default_backend be

backend be
  option httpchk GET ${o.checkPath}
  http-check expect status 200
  default-server inter ${o.inter ?? '250ms'} fall 2 rise 1
${servers.join('\n')}
`;
}

// HAProxies a test forgot to stop (crash, process.exit): killed on exit.
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** One command on the stats socket; resolves with the whole answer (HAProxy closes after it). */
function statsCommand(socket: string, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let out = '';
    c.setTimeout(timeoutMs, () => c.destroy(new Error(`haproxy stats socket: no answer to "${command}" within ${timeoutMs} ms`)));
    c.on('connect', () => c.write(`${command}\n`));
    c.on('data', (d) => { out += String(d); });
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
}

/** `show stat` CSV → state of each server of backend `be`. */
export function parseServerStates(csv: string): Record<string, ServerState> {
  const lines = csv.split('\n').filter(Boolean);
  const header = lines[0]?.replace(/^# /, '').split(',') ?? [];
  const [px, sv, st] = ['pxname', 'svname', 'status'].map((k) => header.indexOf(k));
  if (px < 0 || sv < 0 || st < 0) throw new Error(`haproxy: unexpected "show stat" header: ${lines[0]}`);
  const out: Record<string, ServerState> = {};
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (f[px] === 'be' && f[sv] !== 'BACKEND') out[f[sv]] = f[st];
  }
  return out;
}

export async function startHaproxy(o: HaproxyOptions): Promise<Haproxy> {
  const bin = requireBinary('haproxy', 'haproxy');
  const setpriv = requireBinary('setpriv', 'util-linux');
  const dir = await mkdtemp(join(tmpdir(), 'vigil-haproxy-'));
  dirs.add(dir);
  const configFile = join(dir, 'haproxy.cfg');
  const socket = join(dir, 'stats.sock');
  const logFile = join(dir, 'haproxy.log');
  let child: ChildProcess | undefined;
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        const exited = once(c, 'exit');
        c.kill('SIGKILL');
        await exited;
      }
      if (c) live.delete(c);
      await rm(dir, { recursive: true, force: true });
      dirs.delete(dir);
    })();
    return stopped;
  };
  const log = (): Promise<string> => readFile(logFile, 'utf8').catch(() => '');
  const serverStates = async (): Promise<Record<string, ServerState>> => parseServerStates(await statsCommand(socket, 'show stat'));

  try {
    await writeFile(configFile, haproxyConfig(o, socket));
    // -db: foreground, no daemon, so the PID we hold is HAProxy itself. Unwrapped, setpriv
    // --pdeathsig (which execs, keeping the PID) has the kernel kill HAProxy if the test
    // process dies unannounced (SIGKILL), when no exit hook runs; netns wraps do the same.
    const args = ['-db', '-f', configFile];
    const [cmd, argv] = o.wrap ? o.wrap(bin, args) : [setpriv, ['--pdeathsig', 'KILL', '--', bin, ...args]];
    const fd = openSync(logFile, 'a');
    try {
      child = spawn(cmd, argv, { stdio: ['ignore', fd, fd] });
    } finally { closeSync(fd); }
    live.add(child);
    child.once('error', () => undefined); // reported below as "exited" with the log
    // Ready = the stats socket answers (it is bound after the frontend, so both are).
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`haproxy exited (${child.exitCode ?? child.signalCode}) at start; log:\n${(await log()).slice(-2000)}`);
      }
      if (await serverStates().then(() => true, () => false)) break;
      if (Date.now() > deadline) throw new Error(`haproxy: stats socket not answering after 10 s; log:\n${(await log()).slice(-2000)}`);
      await sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url: `http://${o.bind.host}:${o.bind.port}`,
    configFile,
    pid: child.pid!,
    serverStates,
    async waitStates(want, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      let last: Record<string, ServerState> = {};
      for (;;) {
        last = await serverStates().catch(() => last);
        if (Object.entries(want).every(([n, s]) => last[n] === s)) return;
        if (Date.now() > deadline) {
          throw new Error(`haproxy: servers not ${JSON.stringify(want)} within ${timeoutMs} ms (now ${JSON.stringify(last)}); log tail:\n${(await log()).slice(-1500)}`);
        }
        await sleep(50);
      }
    },
    log,
    stop,
  };
}
