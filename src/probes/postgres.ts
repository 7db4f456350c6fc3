// PostgreSQL connectivity probe: log in and run one query within the timeout,
// connect and query time exported separately; the same reasons as the mysql
// probe for the same causes. The server cancels a slow statement itself
// (statement_timeout); the abort signal destroys the socket for everything else.
import type pg from 'pg';
import { z } from 'zod';
import { formatDuration } from '../config/durations.js';
import { hostPort, resolveSecretFile, secret } from '../config/fields.js';
import { tlsConfig, type TlsOptions } from '../config/tls.js';
import { defineProbe } from './definition.js';
import { classifyNetworkError } from './net-errors.js';
import { fail, timed } from './outcome.js';
import { loadPg } from '../optional-deps.js';
import { AUTH_REFUSED, AuthRefusedError, isTrustedChannel } from './auth-refusal.js';
import { guardedPassword } from './postgres-auth.js';
import { ByteBudget, PeerTooLargeError } from './peer-limits.js';
import type { FailureReason, Observation, ProbeOutcome } from './types.js';

type Phase = 'connect' | 'query';

/** SQLSTATEs by meaning (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
function classifySqlState(code: string, phase: Phase): FailureReason {
  if (code.startsWith('28') || code === '42501') return 'auth'; // invalid authorization / insufficient privilege
  if (code === '53300' || code === '57P03' || code === '57P01') return 'connect_refused'; // too many connections, starting/shutting down
  if (code === '57014' || code === '55P03') return 'timeout'; // statement_timeout cancelled it, lock_timeout
  if (code === '25006') return 'readonly'; // read_only_sql_transaction
  // At login any other refusal is about who we are or which database (3D000) we asked for.
  return phase === 'connect' ? 'auth' : 'query';
}

export function classifyPostgresError(err: unknown, phase: Phase, aborted: boolean): { reason: FailureReason; message: string } {
  if (aborted) return classifyNetworkError(err, true);
  if (err instanceof AuthRefusedError) return { reason: 'auth', message: `${AUTH_REFUSED}: ${err.message}` };
  if (err instanceof loadPg().DatabaseError && err.code) {
    return { reason: classifySqlState(err.code, phase), message: `SQLSTATE ${err.code}: ${err.message}` };
  }
  const text = err instanceof Error ? err.message : String(err);
  if (/does not support SSL/i.test(text)) return { reason: 'tls', message: text };
  if (/timeout expired|connection timeout/i.test(text)) return { reason: 'timeout', message: text };
  if (/Connection terminated/i.test(text)) return { reason: 'connect_refused', message: text };
  return classifyNetworkError(err, false);
}

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
 * swapped it in) bounds what one run can make it hold.
 */
function limitReceived(client: pg.Client, budget: ByteBudget): void {
  const watch = (stream: NodeJS.EventEmitter & { destroy(err?: Error): void }) => {
    stream.on('data', (chunk: Buffer) => {
      if (!budget.take(chunk.length)) stream.destroy(new PeerTooLargeError(budget.limit));
    });
  };
  watch(client.connection.stream);
  client.connection.on('sslconnect', () => watch(client.connection.stream));
}

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

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const ms = (s: number) => `${(s * 1000).toFixed(1)}ms`;

export const postgresProbe = defineProbe({
  type: 'postgres',
  fields: (ctx) => ({
    address: hostPort().optional(),
    socket: z.string().startsWith('/', 'must be an absolute path to the directory holding .s.PGSQL.<port>').optional(),
    port: z.number().int().min(1).max(65535).default(5432),
    user: z.string({ required_error: 'needs the user to log in as' }).min(1),
    password: secret(ctx.env).optional(),
    password_file: z.string().optional(),
    database: z.string().min(1).default('postgres'),
    query: z.string().min(1).default('SELECT 1'),
    tls: z.union([z.literal(true), tlsConfig()]).optional(),
    keepalive: z.boolean().default(false),
  }),
  normalize(cfg, ctx) {
    if ((cfg.address === undefined) === (cfg.socket === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [cfg.address ? 'socket' : 'address'],
        message: 'set either address (host:port) or socket (/var/run/postgresql), exactly one' });
    }
    return resolveSecretFile(cfg, 'password', ctx);
  },
  create(cfg) {
    // For a unix socket, pg takes the directory as host and the port names the socket file.
    const host = cfg.socket ?? cfg.address?.host ?? '';
    const port = cfg.socket ? cfg.port : cfg.address?.port ?? cfg.port;
    const who = `${cfg.user}@${cfg.socket ? `unix:${cfg.socket}/.s.PGSQL.${port}` : `${host.includes(':') ? `[${host}]` : host}:${port}`}/${cfg.database}`;
    let kept: Handle | undefined;
    const trusted = isTrustedChannel(cfg);

    const open = async (signal: AbortSignal): Promise<Handle> => {
      const guard = guardedPassword(cfg.password ?? '', trusted);
      const client = new (loadPg().Client)({
        host, port, user: cfg.user, password: guard.password, database: cfg.database, ssl: sslOptions(cfg.tls),
        connectionTimeoutMillis: cfg.timeoutMs, statement_timeout: cfg.timeoutMs, application_name: 'vigil',
      });
      guard.watch(client);
      const h: Handle = { client, dead: false, received: new ByteBudget() };
      limitReceived(client, h.received);
      // Permanent: an idle kept connection that the server closes must not crash the agent.
      client.on('error', () => { h.dead = true; });
      client.on('end', () => { h.dead = true; });
      await abortable(h, signal, client.connect());
      return h;
    };

    return {
      name: cfg.name,
      type: 'postgres',
      run: (signal) => timed(async (): Promise<ProbeOutcome> => {
        let phase: Phase = 'connect';
        let connectSeconds = 0;
        let querySeconds = NaN;
        let h = cfg.keepalive && kept && !kept.dead ? kept : undefined;
        const reused = h !== undefined;
        h?.received.reset();
        const observations = (): Observation[] => [
          { name: 'db_connect_duration_seconds', value: connectSeconds },
          { name: 'db_query_duration_seconds', value: querySeconds },
        ];
        try {
          if (!h) {
            const t0 = process.hrtime.bigint();
            try { h = await open(signal); } finally { connectSeconds = seconds(t0); }
            if (cfg.keepalive) kept = h;
          }
          phase = 'query';
          const t1 = process.hrtime.bigint();
          let rows: number;
          try { rows = (await abortable(h, signal, h.client.query(cfg.query))).rowCount ?? 0; } finally { querySeconds = seconds(t1); }
          if (!cfg.keepalive) void h.client.end().catch(() => undefined);
          return { ok: true, observations: observations(),
            message: `${who}: ${reused ? 'reused connection' : `connected in ${ms(connectSeconds)}`}, query returned ${rows} row${rows === 1 ? '' : 's'} in ${ms(querySeconds)}` };
        } catch (err) {
          if (h) { destroy(h); if (kept === h) kept = undefined; }
          const c = signal.aborted
            ? { reason: 'timeout' as const, message: `no answer within the timeout (${formatDuration(cfg.timeoutMs)}) while ${phase === 'connect' ? 'connecting' : 'querying'}` }
            : classifyPostgresError(err, phase, false);
          return fail(c.reason, `${phase} ${who}: ${c.message}`, observations());
        }
      }),
      close: async () => { if (kept) { const k = kept; kept = undefined; k.dead = true; await k.client.end().catch(() => undefined); } },
    };
  },
});
