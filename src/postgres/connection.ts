// One place for how vigil talks to PostgreSQL: the connection fields every
// postgres* probe shares (address or socket, user, password / password_file,
// database, tls, keepalive), and a connector that honours the probe's abort
// signal even when the server accepts TCP and then never answers, bounds
// what the server can make it hold, and never hands the password to a server
// it cannot authenticate (auth.ts). The server cancels a slow statement
// itself (statement_timeout); the abort signal destroys the socket for
// everything else.
import type pg from 'pg';
import { z } from 'zod';
import { formatDuration } from '../config/durations.js';
import { hostPort, resolveSecretFile, secret } from '../config/fields.js';
import { tlsConfig, type TlsOptions } from '../config/tls.js';
import { loadPg } from '../optional-deps.js';
import { isTrustedChannel } from '../probes/auth-refusal.js';
import { ByteBudget, capText, PeerTooLargeError } from '../probes/peer-limits.js';
import type { FailureReason } from '../probes/types.js';
import { guardedPassword } from './auth.js';
import { classifyPostgresError, type PostgresPhase } from './errors.js';

export const postgresConnectionFields = (env: NodeJS.ProcessEnv) => ({
  address: hostPort().optional(),
  socket: z.string().startsWith('/', 'must be an absolute path to the directory holding .s.PGSQL.<port>').optional(),
  port: z.number().int().min(1).max(65535).default(5432),
  user: z.string({ required_error: 'needs the user to log in as' }).min(1),
  password: secret(env).optional(),
  password_file: z.string().optional(),
  database: z.string().min(1).default('postgres'),
  tls: z.union([z.literal(true), tlsConfig()]).optional(),
  keepalive: z.boolean().default(false),
});

type ConnectionFields = z.output<z.ZodObject<ReturnType<typeof postgresConnectionFields>>>;

/** Cross-field checks shared by every postgres* probe; call from the probe's normalize. */
export function normalizePostgresConnection<T extends ConnectionFields>(cfg: T, ctx: z.RefinementCtx): T {
  if ((cfg.address === undefined) === (cfg.socket === undefined)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: [cfg.address ? 'socket' : 'address'],
      message: 'set either address (host:port) or socket (/var/run/postgresql), exactly one' });
  }
  return resolveSecretFile(cfg, 'password', ctx);
}

export interface PostgresTarget {
  /** A host name or address, or for a unix socket the directory that holds it. */
  readonly host: string;
  /** For a unix socket, the port names the socket file (.s.PGSQL.<port>). */
  readonly port: number;
  readonly socket: boolean;
  readonly user: string;
  readonly password?: string;
  readonly database: string;
  readonly tls?: TlsOptions | true;
}

export function postgresTarget(cfg: ConnectionFields): PostgresTarget {
  return {
    host: cfg.socket ?? cfg.address?.host ?? '',
    port: cfg.socket ? cfg.port : cfg.address?.port ?? cfg.port,
    socket: cfg.socket !== undefined,
    user: cfg.user, password: cfg.password, database: cfg.database, tls: cfg.tls,
  };
}

/** Where we connect, safe for messages: user, endpoint and database, never the password. */
export function describeTarget(t: PostgresTarget): string {
  const where = t.socket ? `unix:${t.host}/.s.PGSQL.${t.port}` : `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
  return `${t.user}@${where}/${t.database}`;
}

export interface PostgresTiming {
  connectSeconds: number;
  querySeconds: number;
  /** An open connection was reused (keepalive): connectSeconds is 0. */
  reused: boolean;
  reachedQuery: boolean;
}

/** What a probe body gets: statements that give up when the probe's signal aborts. */
export interface PostgresLink {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ rows: T[]; rowCount: number }>;
}

export type PostgresRun<T> =
  | { readonly ok: true; readonly value: T; readonly timing: PostgresTiming }
  | { readonly ok: false; readonly phase: PostgresPhase; readonly reason: FailureReason; readonly message: string;
      readonly error: unknown; readonly timing: PostgresTiming };

function sslOptions(tls: TlsOptions | true | undefined): pg.ClientConfig['ssl'] {
  if (tls === undefined) return false;
  if (tls === true) return { rejectUnauthorized: true };
  return { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized, servername: tls.servername };
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason instanceof Error ? signal.reason.message : 'aborted';
  return Object.assign(new Error(reason), { name: 'AbortError', code: 'ABORT_ERR' });
}

interface Handle { readonly client: pg.Client; dead: boolean; readonly received: ByteBudget }

/**
 * pg buffers a message until it is complete, however long its header says it
 * is (up to 2 GiB). Counting what the socket delivers (the TLS socket once pg
 * swapped it in) bounds what one run can make it hold. pg doubles that buffer
 * as a message grows, and the old one is alive while it copies: a message let
 * grow to the limit would take twice the limit anew, three times at once. So
 * the count sees each read before pg does (first listener), and the
 * connection closes one read short of the limit: pg's buffer never doubles
 * past it.
 */
function limitReceived(client: pg.Client, budget: ByteBudget): void {
  const watch = (stream: NodeJS.EventEmitter & { destroy(err?: Error): void }) => {
    stream.prependListener('data', (chunk: Buffer) => {
      if (!budget.take(chunk.length, MAX_READ)) stream.destroy(new PeerTooLargeError(budget.limit));
    });
  };
  watch(client.connection.stream);
  client.connection.on('sslconnect', () => watch(client.connection.stream));
}

/** The most one socket read delivers (libuv reads into 64 KiB). */
const MAX_READ = 64 * 1024;

function destroy(h: Handle): void {
  h.dead = true;
  h.client.connection.stream.destroy();
}

/** Settles `work` or rejects when the signal aborts, destroying the socket so nothing lingers. */
function abortable<T>(h: Handle, signal: AbortSignal, work: Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) { destroy(h); return reject(abortError(signal)); }
    const onAbort = () => { destroy(h); reject(abortError(signal)); };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function open(t: PostgresTarget, timeoutMs: number, signal: AbortSignal): Promise<Handle> {
  const guard = guardedPassword(t.password ?? '', isTrustedChannel({ socket: t.socket ? t.host : undefined, tls: t.tls }));
  const client = new (loadPg().Client)({
    host: t.host, port: t.port, user: t.user, password: guard.password, database: t.database, ssl: sslOptions(t.tls),
    connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs, application_name: 'vigil',
  });
  guard.watch(client);
  const h: Handle = { client, dead: false, received: new ByteBudget() };
  limitReceived(client, h.received);
  // Permanent: an idle kept connection that the server closes must not crash the agent.
  client.on('error', () => { h.dead = true; });
  client.on('end', () => { h.dead = true; });
  await abortable(h, signal, client.connect());
  return h;
}

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

/**
 * Opens a connection per run (or keeps one with keepalive), runs the body
 * with it, and classifies whatever goes wrong. Never throws.
 */
export class PostgresConnector {
  private kept: Handle | undefined;

  constructor(readonly target: PostgresTarget, private readonly keepalive: boolean) {}

  async run<T>(signal: AbortSignal, timeoutMs: number, body: (link: PostgresLink) => Promise<T>): Promise<PostgresRun<T>> {
    const timing: PostgresTiming = { connectSeconds: 0, querySeconds: 0, reused: false, reachedQuery: false };
    let phase: PostgresPhase = 'connect';
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
      const link: PostgresLink = {
        query: async <R>(sql: string, params?: readonly unknown[]) => {
          const t0 = process.hrtime.bigint();
          try {
            const res = await abortable(handle, signal, handle.client.query(sql, params as unknown[] | undefined));
            return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
          } finally { timing.querySeconds += seconds(t0); }
        },
      };
      const value = await body(link);
      if (!this.keepalive) { h.dead = true; void h.client.end().catch(() => undefined); }
      return { ok: true, value, timing };
    } catch (error) {
      if (h) {
        destroy(h);
        if (this.kept === h) this.kept = undefined;
      }
      const c = signal.aborted
        ? { reason: 'timeout' as const, message: `no answer within the timeout (${formatDuration(timeoutMs)}) while ${phase === 'connect' ? 'connecting' : 'querying'}` }
        : classifyPostgresError(error, phase, false);
      return { ok: false, phase, reason: c.reason, message: capText(c.message), error, timing };
    }
  }

  async close(): Promise<void> {
    const k = this.kept;
    this.kept = undefined;
    if (k) { k.dead = true; await k.client.end().catch(() => undefined); }
  }
}
