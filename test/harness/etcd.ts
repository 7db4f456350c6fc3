// Real etcd (1 or 3 members) on loopback for tests. No mocks: the agent's
// coordination code must meet etcd's real election and quorum behaviour.
// `placement` runs a member elsewhere, e.g. inside a network namespace at its
// own address (test/harness/netns.ts gives `wrap`), so a partition test can
// cut one member off for real.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, mkdir, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { freePort } from './ports.js';
import { requireBinary } from './require-binary.js';

export interface EtcdMember {
  name: string;
  clientPort: number;
  /** host:port of this member's client URL */
  endpoint: string;
  /** SIGKILL (no graceful leave, like a crashed host) and wait for exit. */
  kill(): Promise<void>;
  /** Start again on the same data dir; resolves once /health answers true. */
  start(): Promise<void>;
  isRunning(): boolean;
}

/** Where one member runs; ports default to free loopback ports. */
export interface EtcdPlacement {
  readonly host: string;
  readonly clientPort?: number;
  readonly peerPort?: number;
  readonly metricsPort?: number;
  /** Rewrites the command line, e.g. to `ip netns exec NS etcd …` (the PID must stay etcd's). */
  readonly wrap?: (cmd: string, args: string[]) => [string, string[]];
}

export interface EtcdOptions {
  readonly nodes: 1 | 3;
  /** Member names (default m1, m2, m3). */
  readonly names?: readonly string[];
  /** Where member `index` runs (default 127.0.0.1). */
  readonly placement?: (index: number) => EtcdPlacement;
}

export interface EtcdCluster {
  endpoints: string[];
  members: EtcdMember[];
  /** The member that currently leads (asks the running members). */
  leader(): Promise<EtcdMember>;
  /**
   * Resolves once every running member names the same leader in the same
   * raft term, twice 300 ms apart. After a partition heals, etcd 3.4 (no
   * pre-vote) lets a write through and then holds an election, because the
   * healed members campaigned alone and come back with a higher term: a
   * single successful write does not mean the cluster is settled.
   */
  stable(timeoutMs?: number): Promise<void>;
  /** SIGKILL every member and delete the data dirs. */
  stop(): Promise<void>;
}

// Clusters not stopped when the test process exits (crash, process.exit).
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false;
  }
}

export async function startEtcd(opts: EtcdOptions = { nodes: 1 }): Promise<EtcdCluster> {
  const bin = requireBinary('etcd', 'etcd-server');
  const dir = await mkdtemp(join(tmpdir(), 'vigil-etcd-'));
  dirs.add(dir);
  const ports = await distinctPorts(opts.nodes * 3);
  const specs = Array.from({ length: opts.nodes }, (_, i) => {
    const p = opts.placement?.(i);
    return {
      name: opts.names?.[i] ?? `m${i + 1}`, host: p?.host ?? '127.0.0.1', wrap: p?.wrap,
      clientPort: p?.clientPort ?? ports[3 * i], peerPort: p?.peerPort ?? ports[3 * i + 1], metricsPort: p?.metricsPort ?? ports[3 * i + 2],
    };
  });
  // One token per cluster (all members equal) so two test clusters never merge.
  const token = `vigil-${ports[0]}-${randomBytes(3).toString('hex')}`;
  const initialCluster = specs.map((s) => `${s.name}=http://${s.host}:${s.peerPort}`).join(',');

  const members = specs.map((s) => {
    const dataDir = join(dir, s.name);
    const logFile = join(dir, `${s.name}.log`);
    const endpoint = `${s.host}:${s.clientPort}`;
    let child: ChildProcess | undefined;
    let exited: Promise<void> = Promise.resolve();
    const args = [
      '--name', s.name, '--data-dir', dataDir,
      '--listen-client-urls', `http://${endpoint}`, '--advertise-client-urls', `http://${endpoint}`,
      '--listen-peer-urls', `http://${s.host}:${s.peerPort}`,
      '--initial-advertise-peer-urls', `http://${s.host}:${s.peerPort}`,
      '--initial-cluster', initialCluster, '--initial-cluster-token', token,
      '--listen-metrics-urls', `http://${s.host}:${s.metricsPort}`,
      // Fast elections so failover tests take about a second, not ten.
      '--heartbeat-interval', '100', '--election-timeout', '500',
    ];
    const member = {
      name: s.name, clientPort: s.clientPort, endpoint,
      isRunning: () => child !== undefined && child.exitCode === null && child.signalCode === null,
      async spawn() {
        await mkdir(dataDir, { recursive: true });
        const log = await open(logFile, 'a'); // etcd logs a lot: keep it off the test output
        const [cmd, argv] = s.wrap ? s.wrap(bin, args) : [bin, args];
        const c = spawn(cmd, argv, { stdio: ['ignore', log.fd, log.fd] });
        await log.close();
        child = c;
        live.add(c);
        c.unref(); // a test that forgets stop() can still end; the exit hook then kills it
        exited = new Promise((r) => c.once('exit', () => { live.delete(c); r(); }));
        c.once('error', () => undefined); // surfaced by waitHealthy's timeout + log
      },
      async waitHealthy(timeoutMs: number) {
        const deadline = Date.now() + timeoutMs;
        while (!(await healthy(endpoint))) {
          if (!member.isRunning() || Date.now() > deadline) {
            const log = await readFile(logFile, 'utf8').catch(() => '');
            throw new Error(`etcd ${s.name} not healthy (running=${member.isRunning()}); log tail:\n${log.slice(-2000)}`);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      async kill() {
        child?.ref(); // keep the loop alive until the exit event arrives
        if (child && member.isRunning()) child.kill('SIGKILL');
        await exited;
      },
      async start() {
        if (member.isRunning()) return;
        await member.spawn();
        await member.waitHealthy(15_000);
      },
    };
    return member;
  });

  const cluster: EtcdCluster = {
    endpoints: members.map((m) => m.endpoint),
    members,
    async leader() {
      for (const m of members.filter((x) => x.isRunning())) {
        const client = new Etcd3({ hosts: m.endpoint, dialTimeout: 1000 });
        try {
          const st = await client.maintenance.status();
          if (st.leader === st.header.member_id) return m;
        } catch { /* member may be electing; ask the next */ } finally {
          client.close();
        }
      }
      throw new Error('etcd: no running member reports itself as leader');
    },
    async stable(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let prev: string | undefined;
      let last = 'no answer yet';
      for (;;) {
        const views = await Promise.all(members.filter((x) => x.isRunning()).map(async (m) => {
          const client = new Etcd3({ hosts: m.endpoint, dialTimeout: 1000 });
          try {
            const st = await client.maintenance.status({ deadline: Date.now() + 1000 });
            return `leader ${st.leader} term ${st.raftTerm}`;
          } catch (err) { return `${m.name}: ${(err as Error).message.slice(0, 80)}`; } finally { client.close(); }
        }));
        last = views.join('; ');
        const agreed = views.length > 0 && views.every((v) => v === views[0] && !v.startsWith('leader 0 ') && v.startsWith('leader ')) ? views[0] : undefined;
        if (agreed && agreed === prev) return;
        prev = agreed;
        if (Date.now() > deadline) throw new Error(`etcd not settled within ${timeoutMs} ms: ${last}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    },
    async stop() {
      // SIGKILL, not SIGTERM: a member without quorum takes ~5 s to stop on SIGTERM.
      await Promise.all(members.map((m) => m.kill()));
      await rm(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };

  try {
    // All members must be up at once: a 3-node cluster has no quorum before.
    await Promise.all(members.map((m) => m.spawn()));
    await Promise.all(members.map((m) => m.waitHealthy(20_000)));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
