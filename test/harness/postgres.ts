// A real PostgreSQL for tests of the Postgres probe. Usage:
//
//   const pg = await startPostgres();
//   after(() => pg.stop());              // always; stop() is idempotent
//
// Postgres refuses to run as root, so initdb and the postmaster run as the
// `postgres` system user (created by Debian's postgresql package). The
// postmaster is started directly rather than via `pg_ctl start`: pg_ctl
// daemonizes it, which would lose its PID and the parent-death signal that
// shuts it down if the test process dies without running after() hooks.
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
  /** An empty database owned by `user`. */
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

/**
 * `settings` become `-c name=value` server options (e.g. ssl, ssl_cert_file);
 * files they name must be readable by the `postgres` system user.
 */
export async function startPostgres(opts: { settings?: Readonly<Record<string, string>> } = {}): Promise<PostgresServer> {
  const setpriv = requireBinary('setpriv', 'util-linux');
  const initdb = requireBinary('initdb', 'postgresql');
  const postgres = requireBinary('postgres', 'postgresql');
  const ids = await osUserIds(OS_USER);
  const asPostgres = ['--reuid', String(ids.uid), '--regid', String(ids.gid), '--init-groups'];

  const dir = await mkdtemp(join(tmpdir(), 'vigil-postgres-'));
  const datadir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const user = 'vigil';
  const password = randomBytes(12).toString('hex');
  const database = 'vigil';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const running = (): boolean => child?.pid !== undefined && child.exitCode === null && child.signalCode === null;

  // SIGQUIT (immediate shutdown), not SIGKILL: the postmaster then still
  // removes its SysV shared memory, which would otherwise outlive the datadir.
  const onExit = (): void => {
    if (running()) child?.kill('SIGQUIT');
    // A server may still be writing while it dies; never throw while exiting.
    try { rmSync(dir, { recursive: true, force: true, maxRetries: 3 }); } catch { /* best effort */ }
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
      await rm(dir, { recursive: true, force: true });
      process.off('exit', onExit);
    })();
    return stopped;
  };

  const run = async <T>(db: string, sql: string, params?: unknown[]): Promise<T[]> => {
    const client = new pg.Client({ host: HOST, port, user, password, database: db, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  };

  let port = 0;
  try {
    await chown(dir, ids.uid, ids.gid);
    const pwfile = join(dir, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    await chown(pwfile, ids.uid, ids.gid);
    await promisify(execFile)(setpriv, [...asPostgres, '--', initdb,
      '-D', datadir, '-U', user, `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256',
      '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions',
    ]).catch((err: Error & { stderr?: string }) => {
      throw new Error(`initdb failed: ${err.message}\n${err.stderr ?? ''}`);
    });
    await rm(pwfile);

    port = await freePort();
    const log = await open(logFile, 'a');
    child = spawn(setpriv, [...asPostgres, '--pdeathsig', 'QUIT', '--', postgres,
      '-D', datadir, '-p', String(port), '-c', `listen_addresses=${HOST}`, '-c', `unix_socket_directories=${dir}`,
      // Durability is irrelevant for a throw-away test server.
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      ...Object.entries(opts.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
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
    await run('postgres', `CREATE DATABASE ${database} OWNER ${user}`);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    host: HOST, port, user, password, database, dir,
    pid: () => (running() ? child?.pid : undefined),
    query: <T = any>(sql: string, params?: unknown[]) => run<T>(database, sql, params),
    stop,
  };
}
