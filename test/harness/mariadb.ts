// Real MariaDB servers with GTID replication, for tests of MySQL probes and
// failover. MySQL itself is not packaged for Debian; MariaDB 10.11 speaks the
// same replication commands. Usage:
//
//   const topo = await startMariaTopology({ replicas: 2 });
//   after(() => topo.stop());            // always; stop() is idempotent
//
// Every mariadbd runs under `setpriv --pdeathsig KILL`, so the kernel kills it
// if the test process dies without running after() hooks; a process 'exit'
// handler covers ordinary exits and also deletes the temp dir.
//
// By default every server listens on 127.0.0.1 (a free port each) with a 2 s
// slave_net_timeout. `placement` puts each server elsewhere, e.g. inside a
// network namespace at its own address (test/harness/netns.ts gives `wrap`);
// `clientHost` is then the host part of the admin and replication users (the
// subnet, '10.213.7.%'), and `slaveNetTimeoutS: null` keeps MariaDB's default
// replication timing (60 s) so a silent partition looks as it does in
// production.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort } from './ports.js';
import { requireBinary } from './require-binary.js';

export interface MariaNode {
  readonly name: string;
  /** The address it listens on and others connect to (127.0.0.1 unless placed). */
  readonly host: string;
  readonly port: number;
  readonly serverId: number;
  readonly socket: string;
  readonly errorLog: string;
  pid(): number | undefined;
  /**
   * Start on the same datadir; resolves once the server accepts connections.
   * `readOnly` overrides the node's role default (replicas start read-only),
   * e.g. to bring a former replica back writable as a crashed primary would.
   * `extraArgs` are appended to mariadbd's command line (e.g. --ssl-cert=…).
   */
  start(opts?: { readOnly?: boolean; extraArgs?: readonly string[] }): Promise<void>;
  /** Send a signal (default SIGKILL, like a crashed host) and wait for exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  isRunning(): boolean;
  /**
   * One statement over TCP as the admin user, on a fresh connection (so a
   * killed/restarted node never leaves a stale one). Returns the rows, or []
   * for statements without a result set.
   */
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * The same as root over the unix socket: a file, so it reaches a server in
   * another network namespace even while that namespace is cut off.
   */
  socketQuery<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** Where one server runs: its address, its port, and how its command is started. */
export interface MariaPlacement {
  readonly host: string;
  /** Default: a free port on 127.0.0.1. */
  readonly port?: number;
  /** Rewrites the command line, e.g. to `ip netns exec NS cmd …` (the PID must stay the server's). */
  readonly wrap?: (cmd: string, args: string[]) => [string, string[]];
}

export interface MariaTopologyOptions {
  readonly replicas?: number;
  /** Node names, primary first (default primary, replica1, …). */
  readonly names?: readonly string[];
  /** Where node `index` (0 = primary) runs; default 127.0.0.1 and a free port. */
  readonly placement?: (index: number) => MariaPlacement;
  /** Host part of the admin and replication users; default 127.0.0.1. */
  readonly clientHost?: string;
  /** --slave-net-timeout in seconds; null leaves MariaDB's default (60 s). Default 2. */
  readonly slaveNetTimeoutS?: number | null;
}

export interface MariaTopology {
  primary: MariaNode;
  replicas: MariaNode[];
  nodes: MariaNode[];
  /** ALL PRIVILEGES WITH GRANT OPTION, from clientHost only (127.0.0.1 by default; works for pt-heartbeat). */
  admin: { user: string; password: string };
  /** REPLICATION SLAVE only. */
  repl: { user: string; password: string };
  /** Make `replica` read-only and replicate from `source` (GTID, slave_pos). */
  pointReplicaAt(replica: MariaNode, source: MariaNode): Promise<void>;
  /** Wait until `replica` has applied everything its current source has binlogged. */
  waitReplicaCaughtUp(replica: MariaNode, timeoutMs?: number): Promise<void>;
  /** SIGKILL every server, wait for exit, delete `dir`. Idempotent. */
  stop(): Promise<void>;
  dir: string;
}

const LOOPBACK = '127.0.0.1';
const START_TIMEOUT_MS = 30_000;
// A dead primary's socket is closed by the kernel, so the IO thread sees that
// at once; the low timeout (heartbeat = half of it) catches silent links too.
const SLAVE_NET_TIMEOUT_S = 2;
const INNODB_LOG = '--innodb-log-file-size=8M'; // the 96M default makes copies slow

interface Binaries { mariadbd: string; installDb: string; setpriv: string }

interface NodeSpec {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly serverId: number;
  readonly wrap?: MariaPlacement['wrap'];
  readonly slaveNetTimeoutS: number | null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function tail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '(no error log)');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

class ServerNode implements MariaNode {
  readonly socket: string;
  readonly errorLog: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly serverId: number;

  constructor(
    private readonly spec: NodeSpec,
    private readonly datadir: string,
    private readonly nodeDir: string,
    private readonly readOnly: boolean,
    private readonly bins: Binaries,
    private readonly admin: { user: string; password: string },
  ) {
    ({ name: this.name, host: this.host, port: this.port, serverId: this.serverId } = spec);
    this.socket = join(nodeDir, 'mysqld.sock');
    this.errorLog = join(nodeDir, 'error.log'); // needs an extension or mariadbd appends .err
  }

  pid(): number | undefined {
    return this.isRunning() ? this.child?.pid : undefined;
  }

  isRunning(): boolean {
    return this.child?.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(opts: { readOnly?: boolean; extraArgs?: readonly string[] } = {}): Promise<void> {
    if (this.isRunning()) throw new Error(`${this.name} is already running`);
    const readOnly = opts.readOnly ?? this.readOnly;
    const args = [
      '--pdeathsig', 'KILL', '--', this.bins.mariadbd,
      '--no-defaults', '--user=root', `--datadir=${this.datadir}`,
      `--port=${this.port}`, `--bind-address=${this.host}`, `--socket=${this.socket}`,
      `--pid-file=${join(this.nodeDir, 'mysqld.pid')}`, `--log-error=${this.errorLog}`,
      `--server-id=${this.serverId}`, `--log-bin=${join(this.datadir, 'bin')}`,
      `--relay-log=${join(this.datadir, 'relay')}`, '--binlog-format=ROW', '--log-slave-updates',
      '--gtid-strict-mode=ON', '--skip-name-resolve',
      ...(this.spec.slaveNetTimeoutS === null ? [] : [`--slave-net-timeout=${this.spec.slaveNetTimeoutS}`]),
      INNODB_LOG, ...(readOnly ? ['--read-only=ON'] : []), ...(opts.extraArgs ?? []),
    ];
    const [cmd, argv] = this.spec.wrap ? this.spec.wrap(this.bins.setpriv, args) : [this.bins.setpriv, args];
    const child = spawn(cmd, argv, { stdio: 'ignore' });
    this.child = child;
    // 'error' without 'exit' happens when the spawn itself fails.
    this.exited = new Promise((resolve) => { child.once('exit', () => resolve()); child.once('error', () => resolve()); });
    await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (!this.isRunning()) {
        throw new Error(`${this.name} exited during start-up (code ${child.exitCode}, signal ${child.signalCode}):\n${await tail(this.errorLog)}`);
      }
      try {
        await this.rootQuery('SELECT 1');
        return;
      } catch (err) {
        if (Date.now() > deadline) {
          await this.kill();
          throw new Error(`${this.name} not ready after ${START_TIMEOUT_MS} ms (${String(err)}):\n${await tail(this.errorLog)}`);
        }
        await sleep(50);
      }
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.isRunning()) this.child?.kill(signal);
    await this.exited;
  }

  /** Synchronous, for process 'exit' handlers. */
  killNow(): void {
    if (this.isRunning()) this.child?.kill('SIGKILL');
  }

  query<T = any>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.run({ host: this.host, port: this.port, ...this.admin }, sql, params);
  }

  socketQuery<T = any>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.rootQuery<T>(sql, params);
  }

  /** root has no TCP login; used before the admin user exists on this node. */
  rootQuery<T = any>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.run({ socketPath: this.socket, user: 'root' }, sql, params);
  }

  private async run<T>(conn: mysql.ConnectionOptions, sql: string, params?: unknown[]): Promise<T[]> {
    const c = await mysql.createConnection({ ...conn, connectTimeout: 5_000 });
    try {
      const [rows] = await c.query(sql, params);
      return Array.isArray(rows) ? (rows as T[]) : [];
    } finally {
      c.destroy();
    }
  }
}

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export async function startMariaTopology(opts: MariaTopologyOptions = {}): Promise<MariaTopology> {
  const replicaCount = opts.replicas ?? 1;
  const clientHost = opts.clientHost ?? LOOPBACK;
  const slaveNetTimeoutS = opts.slaveNetTimeoutS === undefined ? SLAVE_NET_TIMEOUT_S : opts.slaveNetTimeoutS;
  const bins: Binaries = {
    mariadbd: requireBinary('mariadbd', 'mariadb-server'),
    installDb: requireBinary('mariadb-install-db', 'mariadb-server'),
    setpriv: requireBinary('setpriv', 'util-linux'),
  };
  const dir = await mkdtemp(join(tmpdir(), 'vigil-mariadb-'));
  const admin = { user: 'vigil_admin', password: randomBytes(12).toString('hex') };
  const repl = { user: 'vigil_repl', password: randomBytes(12).toString('hex') };
  const nodes: ServerNode[] = [];

  const onExit = (): void => {
    for (const n of nodes) n.killNow();
    // A server may still be writing while it dies; never throw while exiting.
    try { rmSync(dir, { recursive: true, force: true, maxRetries: 3 }); } catch { /* best effort */ }
  };
  process.on('exit', onExit);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
      await rm(dir, { recursive: true, force: true });
      process.off('exit', onExit);
    })();
    return stopped;
  };

  const byAddress = (host: unknown, port: unknown): ServerNode | undefined =>
    nodes.find((n) => n.host === String(host) && n.port === Number(port));
  const asServer = (n: MariaNode): ServerNode => {
    if (!(n instanceof ServerNode) || !nodes.includes(n)) throw new Error(`${n.name} is not part of this topology`);
    return n;
  };

  const pointReplicaAt = async (replica: MariaNode, source: MariaNode): Promise<void> => {
    // Over the socket as root: a fresh replica has no admin user until it replicates.
    const r = asServer(replica);
    await r.rootQuery('STOP REPLICA');
    await r.rootQuery('SET GLOBAL read_only = ON');
    await r.rootQuery(
      `CHANGE MASTER TO MASTER_HOST=?, MASTER_PORT=?, MASTER_USER=?, MASTER_PASSWORD=?,
         MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`,
      [source.host, source.port, repl.user, repl.password],
    );
    await r.rootQuery('START REPLICA');
  };

  const waitReplicaCaughtUp = async (replica: MariaNode, timeoutMs = 15_000): Promise<void> => {
    const r = asServer(replica);
    const [status] = await r.rootQuery<Record<string, unknown>>('SHOW REPLICA STATUS');
    const source = status && byAddress(status.Master_Host, status.Master_Port);
    if (!source) throw new Error(`${r.name} does not replicate from a node of this topology`);
    const [{ pos }] = await source.rootQuery<{ pos: string }>('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    const [{ res }] = await r.rootQuery<{ res: number | null }>(
      'SELECT MASTER_GTID_WAIT(?, ?) AS res', [pos, timeoutMs / 1000],
    );
    if (res !== 0) {
      const [s] = await r.rootQuery<Record<string, unknown>>('SHOW REPLICA STATUS');
      const fields = ['Slave_IO_Running', 'Slave_SQL_Running', 'Last_IO_Error', 'Last_SQL_Error', 'Gtid_Slave_Pos'];
      const summary = fields.map((f) => `${f}=${String(s?.[f])}`).join(', ');
      throw new Error(`${r.name} did not reach ${source.name}'s GTID ${pos} within ${timeoutMs} ms: ${summary}`);
    }
  };

  try {
    const template = join(dir, 'template');
    await promisify(execFile)(bins.installDb, [
      '--no-defaults', '--user=root', `--datadir=${template}`,
      '--auth-root-authentication-method=normal', '--skip-test-db', INNODB_LOG,
    ]).catch((err: Error & { stderr?: string }) => {
      throw new Error(`mariadb-install-db failed: ${err.message}\n${err.stderr ?? ''}`);
    });

    const ports = await distinctPorts(replicaCount + 1);
    for (let i = 0; i <= replicaCount; i++) {
      const name = opts.names?.[i] ?? (i === 0 ? 'primary' : `replica${i}`);
      const place = opts.placement?.(i) ?? { host: LOOPBACK };
      const nodeDir = join(dir, name);
      await mkdir(nodeDir);
      // Copies are fine: MariaDB GTID replication keys on server_id, not a UUID.
      await cp(template, join(nodeDir, 'data'), { recursive: true });
      const spec = { name, host: place.host, port: place.port ?? ports[i], serverId: i + 1, wrap: place.wrap, slaveNetTimeoutS };
      nodes.push(new ServerNode(spec, join(nodeDir, 'data'), nodeDir, i > 0, bins, admin));
    }
    await rm(template, { recursive: true, force: true });
    await Promise.all(nodes.map((n) => n.start()));

    const [primary, ...replicas] = nodes;
    // Written on the primary before any replica starts, so the users (and the
    // removal of install-db's password-less root@127.0.0.1) replicate.
    const roots = await primary.rootQuery<{ Host: string }>("SELECT Host FROM mysql.user WHERE User = 'root' AND Host <> 'localhost'");
    for (const { Host } of roots) await primary.rootQuery('DROP USER ?@?', ['root', Host]);
    await primary.rootQuery('CREATE USER ?@? IDENTIFIED BY ?', [admin.user, clientHost, admin.password]);
    await primary.rootQuery('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [admin.user, clientHost]);
    await primary.rootQuery('CREATE USER ?@? IDENTIFIED BY ?', [repl.user, clientHost, repl.password]);
    await primary.rootQuery('GRANT REPLICATION SLAVE ON *.* TO ?@?', [repl.user, clientHost]);

    for (const r of replicas) await pointReplicaAt(r, primary);
    await Promise.all(replicas.map((r) => waitReplicaCaughtUp(r)));
    return { primary, replicas, nodes: [...nodes], admin, repl, pointReplicaAt, waitReplicaCaughtUp, stop, dir };
  } catch (err) {
    await stop();
    throw err;
  }
}
