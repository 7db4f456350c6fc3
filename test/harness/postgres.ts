// Real PostgreSQL servers for tests of the postgres* probes: a primary, and
// streaming standbys of it made with pg_basebackup. Usage:
//
//   const pg = await startPostgres();
//   const standby = await startStandby(pg, { name: 'standby-a' });
//   after(async () => { await standby.stop(); await pg.stop(); });   // stop() is idempotent
//
// Postgres refuses to run as root, so initdb, pg_basebackup and the
// postmasters run as the `postgres` system user (created by Debian's
// postgresql package). Each postmaster is started directly rather than via
// `pg_ctl start`: pg_ctl daemonizes it, which would lose its PID and the
// parent-death signal that shuts it down if the test process dies without
// running after() hooks.
//
// The standby recipe (PostgreSQL 15 on Debian, measured ~0.4 s for the base
// backup of a fresh cluster, ~1 s to a streaming standby):
//   pg_basebackup -h 127.0.0.1 -p <primary> -U vigil -D <dir>/data -R -X stream --checkpoint=fast --no-sync
//     (as postgres, password in PGPASSWORD; -R writes standby.signal and a
//     primary_conninfo; initdb's pg_hba.conf already allows `host replication`
//     for the bootstrap superuser, with scram-sha-256 here)
//   postgres -D <dir>/data -p <port> -c primary_conninfo='host=… port=… user=vigil password=… application_name=<name>'
//     (on the command line, so it wins over what -R wrote, which names a
//     passfile under $HOME instead of the password)
// Seen: standby `pg_is_in_recovery() = t`, `pg_stat_wal_receiver.status =
// streaming`; the primary's `pg_stat_replication` shows <name> | streaming |
// async. A monitoring role without pg_monitor (pg_read_all_stats) sees the
// receiver's and the walsenders' pid but NULL in every other column.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';
import { requireBinary } from './require-binary.js';

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** Superuser, password-authenticated (scram-sha-256) over TCP. */
  readonly user: string;
  readonly password: string;
  /** An empty database owned by `user` (on a standby: the primary's, replicated). */
  readonly database: string;
  readonly dir: string;
  pid(): number | undefined;
  /** One statement over TCP on a fresh connection; returns the rows. */
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Fast shutdown (SIGINT), SIGKILL after 5 s; deletes `dir`. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 30_000;
const OS_USER = 'postgres';
const exec = promisify(execFile);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function osUserIds(name: string): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const fields = passwd.split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
  if (!fields) throw new Error(`system user ${name} not found: install it with \`apt-get install -y postgresql\``);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

async function tail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '(no log)');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** What every server needs before its data directory exists: a dir owned by postgres, and how to run as postgres. */
async function prepare(prefix: string): Promise<{ dir: string; ids: { uid: number; gid: number }; setpriv: string; asPostgres: string[] }> {
  const setpriv = requireBinary('setpriv', 'util-linux');
  const ids = await osUserIds(OS_USER);
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chown(dir, ids.uid, ids.gid);
  return { dir, ids, setpriv, asPostgres: ['--reuid', String(ids.uid), '--regid', String(ids.gid), '--init-groups'] };
}

/**
 * A postmaster that was SIGKILLed (a test's "crashed primary") leaves its
 * postmaster.pid and a small SysV shared memory segment behind; the
 * segment's id is on the file's 7th line ("<key> <shmid>"). A clean
 * shutdown removes both, so there is then nothing to do.
 */
async function removeOrphanedSharedMemory(datadir: string): Promise<void> {
  const lines = (await readFile(join(datadir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const shmid = /^\s*\d+\s+(\d+)\s*$/.exec(lines[6] ?? '')?.[1];
  if (shmid === undefined) return;
  // Its backends die with the postmaster, a moment later; ipcrm only marks a segment still attached.
  await exec('ipcrm', ['-m', shmid]).catch(() => undefined);
}

interface Launch {
  readonly dir: string;
  readonly setpriv: string;
  readonly asPostgres: readonly string[];
  readonly settings: Readonly<Record<string, string>>;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/**
 * Runs a postmaster on `dir`/data and waits until it answers; the returned
 * server stops it and deletes `dir`. On any failure `dir` is deleted too.
 */
async function launch(l: Launch): Promise<PostgresServer> {
  const postgres = requireBinary('postgres', 'postgresql');
  const datadir = join(l.dir, 'data');
  const logFile = join(l.dir, 'postgres.log');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const running = (): boolean => child?.pid !== undefined && child.exitCode === null && child.signalCode === null;

  // SIGQUIT (immediate shutdown), not SIGKILL: the postmaster then still
  // removes its SysV shared memory, which would otherwise outlive the datadir.
  const onExit = (): void => {
    if (running()) child?.kill('SIGQUIT');
    // A server may still be writing while it dies; never throw while exiting.
    try { rmSync(l.dir, { recursive: true, force: true, maxRetries: 3 }); } catch { /* best effort */ }
  };
  process.on('exit', onExit);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (running()) {
        child?.kill('SIGINT');
        const timer = setTimeout(() => child?.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await removeOrphanedSharedMemory(datadir);
      await rm(l.dir, { recursive: true, force: true });
      process.off('exit', onExit);
    })();
    return stopped;
  };

  let port = 0;
  const run = async <T>(db: string, sql: string, params?: unknown[]): Promise<T[]> => {
    const client = new pg.Client({ host: HOST, port, user: l.user, password: l.password, database: db, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  };

  try {
    port = await freePort();
    const log = await open(logFile, 'a');
    child = spawn(l.setpriv, [...l.asPostgres, '--pdeathsig', 'QUIT', '--', postgres,
      '-D', datadir, '-p', String(port), '-c', `listen_addresses=${HOST}`, '-c', `unix_socket_directories=${l.dir}`,
      // Durability is irrelevant for a throw-away test server.
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      ...Object.entries(l.settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ], { stdio: ['ignore', log.fd, log.fd] });
    const c = child;
    // 'error' without 'exit' happens when the spawn itself fails.
    exited = new Promise((resolve) => { c.once('exit', () => resolve()); c.once('error', () => resolve()); });
    await new Promise<void>((resolve, reject) => { c.once('spawn', resolve); c.once('error', reject); })
      .finally(() => log.close());

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (!running()) throw new Error(`postgres exited during start-up (code ${c.exitCode}, signal ${c.signalCode}):\n${await tail(logFile)}`);
      try {
        await run('postgres', 'SELECT 1');
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`postgres not ready after ${START_TIMEOUT_MS} ms (${String(err)}):\n${await tail(logFile)}`);
        await sleep(50);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    host: HOST, port, user: l.user, password: l.password, database: l.database, dir: l.dir,
    pid: () => (running() ? child?.pid : undefined),
    query: <T = any>(sql: string, params?: unknown[]) => run<T>(l.database, sql, params),
    stop,
  };
}

/**
 * A primary (or stand-alone server). `settings` become `-c name=value` server
 * options (e.g. ssl, ssl_cert_file); files they name must be readable by the
 * `postgres` system user.
 */
export async function startPostgres(opts: { settings?: Readonly<Record<string, string>> } = {}): Promise<PostgresServer> {
  const initdb = requireBinary('initdb', 'postgresql');
  const p = await prepare('vigil-postgres-');
  const user = 'vigil';
  const password = randomBytes(12).toString('hex');
  const database = 'vigil';
  try {
    const pwfile = join(p.dir, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    await chown(pwfile, p.ids.uid, p.ids.gid);
    await exec(p.setpriv, [...p.asPostgres, '--', initdb,
      '-D', join(p.dir, 'data'), '-U', user, `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256',
      '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions',
    ]).catch((err: Error & { stderr?: string }) => {
      throw new Error(`initdb failed: ${err.message}\n${err.stderr ?? ''}`);
    });
    await rm(pwfile);
  } catch (err) {
    await rm(p.dir, { recursive: true, force: true });
    throw err;
  }
  const server = await launch({ ...p, settings: opts.settings ?? {}, user, password, database });
  const admin = new pg.Client({ host: server.host, port: server.port, user, password, database: 'postgres', connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database} OWNER ${user}`);
  } catch (err) {
    await server.stop();
    throw err;
  } finally {
    await admin.end().catch(() => undefined);
  }
  return server;
}

/**
 * A hot standby streaming from `primary`, made with pg_basebackup; resolves
 * once it is streaming. `name` is its application_name, as the primary's
 * pg_stat_replication shows it. The standby keeps running when the primary
 * dies (its WAL receiver retries every wal_retrieve_retry_interval, 5 s).
 */
export async function startStandby(primary: PostgresServer, opts: { name?: string; settings?: Readonly<Record<string, string>> } = {}): Promise<PostgresServer> {
  const basebackup = requireBinary('pg_basebackup', 'postgresql');
  const p = await prepare('vigil-standby-');
  const name = opts.name ?? 'standby';
  try {
    await exec(p.setpriv, [...p.asPostgres, '--', basebackup, '-h', primary.host, '-p', String(primary.port), '-U', primary.user,
      '-D', join(p.dir, 'data'), '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync'],
    { env: { ...process.env, PGPASSWORD: primary.password, PGAPPNAME: `${name}-basebackup` } })
      .catch((err: Error & { stderr?: string }) => { throw new Error(`pg_basebackup failed: ${err.message}\n${err.stderr ?? ''}`); });
  } catch (err) {
    await rm(p.dir, { recursive: true, force: true });
    throw err;
  }
  const conninfo = `host=${primary.host} port=${primary.port} user=${primary.user} password=${primary.password} application_name=${name}`;
  const standby = await launch({
    ...p, settings: { primary_conninfo: conninfo, ...opts.settings }, user: primary.user, password: primary.password, database: primary.database,
  });
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while ((await standby.query<{ status: string | null }>('SELECT status FROM pg_stat_wal_receiver'))[0]?.status !== 'streaming') {
      if (Date.now() > deadline) throw new Error(`standby ${name} not streaming after ${START_TIMEOUT_MS} ms:\n${await tail(join(p.dir, 'postgres.log'))}`);
      await sleep(50);
    }
  } catch (err) {
    await standby.stop();
    throw err;
  }
  return standby;
}

/**
 * Waits until `standby` has replayed everything `primary` has written so far.
 * A WAL record written for the purpose marks "so far": the primary's current
 * position is no mark, as it may point past a page header no record ends at
 * (0/3000028 right after a segment switch) or, with the harness's
 * synchronous_commit=off, behind a commit still in WAL buffers.
 */
export async function waitReplayed(primary: PostgresServer, standby: PostgresServer, timeoutMs = 10_000): Promise<void> {
  const [{ lsn }] = await primary.query<{ lsn: string }>("SELECT pg_logical_emit_message(false, 'vigil-test', 'mark')::text AS lsn");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [{ behind }] = await standby.query<{ behind: boolean }>('SELECT pg_last_wal_replay_lsn() < $1::pg_lsn AS behind', [lsn]);
    if (!behind) return;
    if (Date.now() > deadline) throw new Error(`standby has not replayed up to ${lsn} after ${timeoutMs} ms`);
    await sleep(20);
  }
}
