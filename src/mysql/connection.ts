// One place for how vigil talks to MySQL/MariaDB: the connection fields every
// mysql* probe shares (address or socket, user, password / password_file,
// database, tls, keepalive), and a connector that honours the probe's abort
// signal even when the server accepts TCP and then never answers.
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Connection, ConnectionOptions } from 'mysql2';
import { loadMysql2 } from '../optional-deps.js';
import { z } from 'zod';
import { formatDuration } from '../config/durations.js';
import { hostPort, resolveSecretFile, secret } from '../config/fields.js';
import { tlsConfig, type TlsOptions } from '../config/tls.js';
import { classifyMysqlError, type MysqlPhase } from './errors.js';
import { guardedAuthPlugins } from './auth-plugins.js';
import { isTrustedChannel } from '../probes/auth-refusal.js';
import { ByteBudget, capText, PeerTooLargeError } from '../probes/peer-limits.js';
import type { FailureReason } from '../probes/types.js';

export const mysqlConnectionFields = (env: NodeJS.ProcessEnv) => ({
  address: hostPort().optional(),
  socket: z.string().startsWith('/', 'must be an absolute path to the server\'s unix socket').optional(),
  user: z.string({ required_error: 'needs the user to log in as' }).min(1),
  password: secret(env).optional(),
  password_file: z.string().optional(),
  database: z.string().min(1).optional(),
  tls: z.union([z.literal(true), tlsConfig()]).optional(),
  keepalive: z.boolean().default(false),
  server_public_key_file: serverPublicKeyFile().optional(),
});

/**
 * The server's RSA public key, read and checked when the config loads. With
 * it, caching_sha2_password and sha256_password may send the password
 * encrypted to this key over a connection without verified TLS; without it
 * vigil refuses those exchanges there (see auth-plugins.ts).
 */
function serverPublicKeyFile() {
  return z.string().min(1).transform((file, ctx): { readonly file: string; readonly pem: string } => {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      return z.NEVER;
    }
    try {
      const key = createPublicKey(text);
      if (key.asymmetricKeyType !== 'rsa') throw new Error(`a ${key.asymmetricKeyType} key, not RSA`);
      return { file, pem: key.export({ type: 'spki', format: 'pem' }).toString() };
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom,
        message: `${file} is not a PEM public key (${(err as Error).message}); copy the server's public_key.pem (caching_sha2_password_public_key_path / sha256_password_public_key_path)` });
      return z.NEVER;
    }
  });
}

type ConnectionFields = z.output<z.ZodObject<ReturnType<typeof mysqlConnectionFields>>>;

/** Cross-field checks shared by every mysql* probe; call from the probe's normalize. */
export function normalizeMysqlConnection<T extends ConnectionFields>(cfg: T, ctx: z.RefinementCtx): T {
  if ((cfg.address === undefined) === (cfg.socket === undefined)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: [cfg.address ? 'socket' : 'address'],
      message: 'set either address (host:port) or socket (/path/to/mysqld.sock), exactly one' });
  }
  if (cfg.tls !== undefined && cfg.tls !== true && cfg.tls.servername !== undefined) {
    // mysql2 checks the certificate against the address's host name and offers no override.
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['tls', 'server_name'],
      message: 'not supported by the MySQL driver: the certificate is checked against the host name in address' });
  }
  return resolveSecretFile(cfg, 'password', ctx);
}

export interface MysqlTarget {
  readonly host?: string;
  readonly port?: number;
  readonly socket?: string;
  readonly user: string;
  readonly password?: string;
  readonly database?: string;
  readonly tls?: TlsOptions | true;
  /** PEM of the server's RSA public key (server_public_key_file). */
  readonly serverPublicKey?: string;
}

export function mysqlTarget(cfg: ConnectionFields): MysqlTarget {
  return { host: cfg.address?.host, port: cfg.address?.port, socket: cfg.socket, user: cfg.user,
    password: cfg.password, database: cfg.database, tls: cfg.tls, serverPublicKey: cfg.server_public_key_file?.pem };
}

/** Where we connect, safe for messages: user and endpoint, never the password. */
export function describeTarget(t: MysqlTarget): string {
  const where = t.socket ? `unix:${t.socket}` : `${t.host?.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
  return `${t.user}@${where}`;
}

export interface MysqlTiming {
  connectSeconds: number;
  querySeconds: number;
  /** An open connection was reused (keepalive): connectSeconds is 0. */
  reused: boolean;
  reachedQuery: boolean;
}

/** What a probe body gets: statements that give up when the probe's signal aborts. */
export interface MysqlLink {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  execute(sql: string, params?: readonly unknown[]): Promise<{ affectedRows: number }>;
}

export type MysqlRun<T> =
  | { readonly ok: true; readonly value: T; readonly timing: MysqlTiming }
  | { readonly ok: false; readonly phase: MysqlPhase; readonly reason: FailureReason; readonly message: string;
      readonly error: unknown; readonly timing: MysqlTiming };

interface Handle { readonly conn: Connection; dead: boolean; readonly received: ByteBudget }

/**
 * mysql2 checks the certificate's name only against a host name: for an IP
 * address it would check "localhost" (Node's default), so there only the
 * chain is verified.
 */
function sslOptions(tls: TlsOptions | true | undefined, host: string | undefined): ConnectionOptions['ssl'] {
  if (tls === undefined) return undefined;
  const opts = tls === true ? { rejectUnauthorized: true } : { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized };
  return { ...opts, verifyIdentity: opts.rejectUnauthorized && host !== undefined && net.isIP(host) === 0 };
}

/** mysql2's destroy() only half-closes; a server that never answers would keep the socket. */
function destroyHard(h: Handle): void {
  h.dead = true;
  h.conn.destroy();
  (h.conn as unknown as { stream?: { destroy?(): void } }).stream?.destroy?.();
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason instanceof Error ? signal.reason.message : 'aborted';
  return Object.assign(new Error(reason), { name: 'AbortError', code: 'ABORT_ERR' });
}

/**
 * mysql2 buffers a packet until it is complete, with no size limit (its
 * maxPacketSize is a constant 0 it tells the server), so a server sending
 * packets without end was buffered until the timeout. Every chunk received,
 * plain or after TLS, goes through connection.packetParser.execute; counted
 * there, the parser is never fed past the budget and the socket is closed.
 */
function limitReceived(conn: Connection, budget: ByteBudget): void {
  // mysql2 internals its typings do not declare.
  const c = conn as unknown as { packetParser: { execute(chunk: Buffer): unknown }; stream: { destroy(err?: Error): void } };
  const parser = c.packetParser;
  c.packetParser = {
    execute: (chunk: Buffer) => {
      if (budget.take(chunk.length)) return parser.execute(chunk);
      c.stream.destroy(new PeerTooLargeError(budget.limit));
      return null;
    },
  };
}

function open(t: MysqlTarget, timeoutMs: number, signal: AbortSignal): Promise<Handle> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const conn = loadMysql2().createConnection({
      host: t.socket ? undefined : t.host, port: t.socket ? undefined : t.port, socketPath: t.socket,
      user: t.user, password: t.password ?? '', database: t.database, ssl: sslOptions(t.tls, t.socket ? undefined : t.host),
      connectTimeout: timeoutMs, dateStrings: true, multipleStatements: false,
      // A probe never loads files; a hostile server must not be able to ask for one.
      flags: ['-LOCAL_FILES'],
      // Nor may it obtain the password (issue 11).
      authPlugins: guardedAuthPlugins({ trusted: isTrustedChannel(t), serverPublicKey: t.serverPublicKey }),
    });
    const h: Handle = { conn, dead: false, received: new ByteBudget() };
    limitReceived(conn, h.received);
    // Permanent listeners: a late error on a connection we gave up on must never
    // become an unhandled 'error' event that takes the agent down.
    conn.on('error', () => { h.dead = true; });
    conn.on('end', () => { h.dead = true; });
    const settle = (err?: unknown) => {
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) return resolve(h);
      destroyHard(h);
      reject(err);
    };
    const onAbort = () => settle(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    conn.once('connect', () => settle());
    conn.once('error', (err) => settle(err));
  });
}

function run<T>(h: Handle, signal: AbortSignal, sql: string, params: readonly unknown[] | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    // A destroyed connection never calls back, so the abort must settle the promise itself.
    const onAbort = () => { destroyHard(h); reject(abortError(signal)); };
    signal.addEventListener('abort', onAbort, { once: true });
    h.conn.query({ sql, values: params as unknown[] | undefined }, (err, rows) => {
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err); else resolve(rows as T);
    });
  });
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/**
 * Opens a connection per run (or keeps one with keepalive), runs the body
 * with it, and classifies whatever goes wrong. Never throws.
 */
export class MysqlConnector {
  private kept: Handle | undefined;

  constructor(readonly target: MysqlTarget, private readonly keepalive: boolean) {}

  async run<T>(signal: AbortSignal, timeoutMs: number, body: (link: MysqlLink) => Promise<T>): Promise<MysqlRun<T>> {
    const timing: MysqlTiming = { connectSeconds: 0, querySeconds: 0, reused: false, reachedQuery: false };
    let phase: MysqlPhase = 'connect';
    let h = this.keepalive && this.kept && !this.kept.dead ? this.kept : undefined;
    try {
      if (h) { timing.reused = true; h.received.reset(); }
      else {
        const t0 = process.hrtime.bigint();
        try { h = await open(this.target, timeoutMs, signal); } finally { timing.connectSeconds = seconds(t0); }
        if (this.keepalive) this.kept = h;
      }
      phase = 'query';
      timing.reachedQuery = true;
      const handle = h;
      const timedRun = async <R>(sql: string, params?: readonly unknown[]): Promise<R> => {
        const t0 = process.hrtime.bigint();
        try { return await run<R>(handle, signal, sql, params); } finally { timing.querySeconds += seconds(t0); }
      };
      const link: MysqlLink = {
        query: async <R>(sql: string, params?: readonly unknown[]) => {
          const rows = await timedRun<unknown>(sql, params);
          return (Array.isArray(rows) ? rows : []) as R[];
        },
        execute: async (sql, params) => {
          const res = await timedRun<{ affectedRows?: number }>(sql, params);
          return { affectedRows: res?.affectedRows ?? 0 };
        },
      };
      const value = await body(link);
      if (!this.keepalive) this.release(h);
      return { ok: true, value, timing };
    } catch (error) {
      if (h) {
        destroyHard(h);
        if (this.kept === h) this.kept = undefined;
      }
      const c = signal.aborted
        ? { reason: 'timeout' as const, message: `no answer within the timeout (${formatDuration(timeoutMs)}) while ${phase === 'connect' ? 'connecting' : 'querying'}` }
        : classifyMysqlError(error, phase, false);
      // Capped here too: failover keeps and shows these messages without a ProbeRunner in between.
      return { ok: false, phase, reason: c.reason, message: capText(c.message), error, timing };
    }
  }

  async close(): Promise<void> {
    if (this.kept) this.release(this.kept);
    this.kept = undefined;
  }

  /** Polite goodbye (COM_QUIT, so the server does not count an aborted client), forced if the server dawdles. */
  private release(h: Handle): void {
    if (h.dead) return;
    h.dead = true;
    const timer = setTimeout(() => destroyHard(h), 1000);
    timer.unref();
    h.conn.end(() => { clearTimeout(timer); destroyHard(h); });
  }
}
