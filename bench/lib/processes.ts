// Helpers the benchmarks share: a local HTTP(S) target in its own process, a
// throwaway certificate for 127.0.0.1, the compiled or source agent as a
// child, and a process's CPU time and memory read from /proc.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => res(port));
    });
  });
}

export async function get(url: string): Promise<{ text: string; ms: number }> {
  const t = performance.now();
  const res = await fetch(url);
  const text = await res.text();
  return { text, ms: performance.now() - t };
}

/** Sum of every sample of a metric family (optionally filtered by a label substring). */
export function sum(body: string, name: string, having = ''): number {
  let total = 0;
  for (const line of body.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (having && !line.includes(having)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** A key of /proc/PID/status in bytes (VmRSS, VmHWM). */
export function procStatus(pid: number, key: string): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** User + system CPU time of a process so far, in ms (/proc/PID/stat utime + stime, all threads). */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses: utime is the 14th field, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** A self-signed EC certificate for 127.0.0.1 in DIR/cert.pem and DIR/key.pem (the CA file is the certificate). */
export function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  if (made.status !== 0) throw new Error('HTTPS targets need openssl (apt-get install -y openssl)');
  return { cert, key };
}

// With BENCH_TLS_DIR the target serves TLS with DIR's key.pem and cert.pem.
const TARGET_SCRIPT = `
const tlsDir = process.env.BENCH_TLS_DIR;
const fs = require('node:fs');
const http = tlsDir ? require('node:https') : require('node:http');
const opts = tlsDir ? { key: fs.readFileSync(tlsDir + '/key.pem'), cert: fs.readFileSync(tlsDir + '/cert.pem') } : {};
let served = 0;
const s = http.createServer(opts, (_q, r) => { served++; r.end('ok'); });
s.listen(0, '127.0.0.1', 2048, () => process.send({ port: s.address().port }));
process.on('message', () => process.send({ served }));
process.on('disconnect', () => process.exit(0));
`;

export interface Target {
  readonly port: number;
  /** Requests answered so far. */
  served(): Promise<number>;
  stop(): void;
}

/**
 * An HTTP server answering "ok" in its own process (serving 1000 requests a
 * second here would delay the measuring process); HTTPS with `tlsDir` (see makeCert).
 */
export async function startTarget(tlsDir?: string): Promise<Target> {
  const child = spawn(process.execPath, ['-e', TARGET_SCRIPT], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env, ...(tlsDir ? { BENCH_TLS_DIR: tlsDir } : {}) },
  });
  const port = await new Promise<number>((res, rej) => {
    child.once('message', (m) => res((m as { port: number }).port));
    child.once('exit', () => rej(new Error('the target server did not start')));
  });
  return {
    port,
    served: () => new Promise<number>((res) => {
      child.once('message', (m) => res((m as { served: number }).served));
      child.send('served?');
    }),
    stop: () => { child.kill('SIGKILL'); },
  };
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** http://127.0.0.1:PORT of its listener. */
  readonly base: string;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/**
 * `vigil run --config FILE` as a child, resolved once /healthz answers. With
 * `dist` the compiled DIR/bin.js (as the installed `vigil` runs), else src through tsx;
 * `node`: another Node binary for the agent (the .deb's runtime is Node 24).
 */
export async function startAgent(o: { config: string; port: number; dist?: string; nodeArgs?: readonly string[]; node?: string }): Promise<AgentProcess> {
  const nodeArgs = o.dist ? [] : ['--import', 'tsx'];
  const entry = o.dist ? resolve(o.dist, 'bin.js') : join(REPO, 'src/bin.ts');
  const child = spawn(o.node ?? process.execPath, [...nodeArgs, ...(o.nodeArgs ?? []), entry, 'run', '--config', o.config], {
    cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const stop = async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    child.kill('SIGKILL');
  };
  const base = `http://127.0.0.1:${o.port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await get(`${base}/healthz`);
      break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error('the agent did not start');
    }
    await sleep(100);
  }
  return { child, pid: child.pid!, base, stop };
}
