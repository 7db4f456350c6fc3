// The two ways the http probe sends a request, behind one shape: http-wire
// for a fresh connection per run (the default, and the hot path at 1000
// probes a second), node:http with a kept-alive Agent for `keepalive: true`.
import http from 'node:http';
import https from 'node:https';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { TlsOptions } from '../config/tls.js';
import { exchange, isRedirectStatus, prepareRequest, WireTls, type ExchangeOptions, type PreparedRequest } from './http-wire.js';
import type { SecureContexts } from './secure-contexts.js';

export interface HttpReply {
  readonly status: number;
  readonly location: string | undefined;
  /** The body's text when it was kept and not cut off. */
  readonly body: string | undefined;
  /** More than the limit arrived; the rest was not read. */
  readonly truncated: boolean;
}

export interface HttpClient {
  /** `stopAtRedirect`: a redirect (with a Location) is returned without reading its body, to be followed. */
  send(url: URL, method: string, headers: Readonly<Record<string, string>>, body: string | undefined,
    stopAtRedirect: boolean, signal: AbortSignal): Promise<HttpReply>;
  close(): void;
}

export interface ClientOptions {
  readonly tls: TlsOptions | undefined;
  /** Body bytes read at most. */
  readonly limit: number;
  readonly keepBody: boolean;
  readonly onCertificate: (cert: DetailedPeerCertificate) => void;
  readonly secureContexts?: SecureContexts;
}

interface FirstRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
}

/**
 * A new connection per request over http-wire. The probe's own request is
 * serialised once (on first use, so a header node would refuse fails each run
 * rather than the config load) and re-sent every run; redirects are built on the fly.
 */
export function freshConnectionClient(o: ClientOptions, first: FirstRequest): HttpClient {
  const base = { tls: new WireTls(o.tls ?? {}, o.secureContexts), limit: o.limit, keepBody: o.keepBody, onPeerCertificate: o.onCertificate };
  const follow: ExchangeOptions = { ...base, stopAtRedirect: true };
  const read: ExchangeOptions = { ...base, stopAtRedirect: false };
  let prepared: PreparedRequest | undefined;
  return {
    send(url, method, headers, body, stopAtRedirect, signal) {
      const isFirst = url === first.url && method === first.method && headers === first.headers && body === first.body;
      const req = isFirst ? (prepared ??= prepareRequest(url, method, headers, body)) : prepareRequest(url, method, headers, body);
      return exchange(req, stopAtRedirect ? follow : read, signal);
    },
    close: () => undefined,
  };
}

function nodeTlsOptions(tls: TlsOptions | undefined): { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean; servername?: string } {
  if (!tls) return {};
  return { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized, servername: tls.servername };
}

/** One kept-alive socket per probe through node:http's Agent. */
export function keepAliveClient(o: ClientOptions): HttpClient {
  const tls = nodeTlsOptions(o.tls);
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 1 }), https: new https.Agent({ keepAlive: true, maxSockets: 1, ...tls }) };
  // Sockets whose handshake is already watched (a kept-alive socket is handed to many requests).
  const watched = new WeakSet<object>();
  // node:http reports a parse error that comes after the head (a bad chunk size) on the request,
  // while the response only says "aborted": keep it, so the probe can say what happened.
  const request = (url: URL, method: string, headers: Readonly<Record<string, string>>, body: string | undefined, signal: AbortSignal) =>
    new Promise<{ res: http.IncomingMessage; late: () => Error | undefined }>((resolve, reject) => {
      const secure = url.protocol === 'https:';
      let late: Error | undefined;
      const req = (secure ? https : http).request(url, {
        method, headers, signal,
        agent: secure ? agents.https : agents.http,
        ...(secure ? tls : {}),
      }, (res) => resolve({ res, late: () => late }));
      req.on('error', (err) => { late = err; reject(err); });
      if (secure) {
        req.on('socket', (socket) => {
          if (watched.has(socket)) return;
          watched.add(socket);
          // Captured at the handshake: once verification failed there is no certificate to read.
          socket.once('secureConnect', () => o.onCertificate((socket as TLSSocket).getPeerCertificate(true)));
        });
      }
      req.end(body);
    });
  return {
    async send(url, method, headers, body, stopAtRedirect, signal) {
      const { res, late } = await request(url, method, headers, body, signal);
      const status = res.statusCode ?? 0;
      const location = typeof res.headers.location === 'string' ? res.headers.location : undefined;
      if (stopAtRedirect && location !== undefined && isRedirectStatus(status)) {
        res.resume();
        return { status, location, body: undefined, truncated: false };
      }
      try {
        const { body: text, truncated } = await readBody(res, o.limit, o.keepBody);
        return { status, location, body: text, truncated };
      } catch (err) {
        // Give the event loop a turn: the request's parse error arrives just after the response's abort.
        await new Promise((r) => setImmediate(r));
        const cause = late();
        const parse = cause && /^HPE_/.test(String((cause as NodeJS.ErrnoException).code)) ? cause : undefined;
        // As http-wire does: the probe still reports the status whose body failed.
        throw Object.assign(parse ?? (err as Error), { httpStatus: status });
      }
    },
    close: () => { agents.http.destroy(); agents.https.destroy(); },
  };
}

/** Reads at most `limit` bytes of the body, keeping its text when `keep`; over the limit the response is cut off. */
function readBody(res: http.IncomingMessage, limit: number, keep: boolean): Promise<{ body: string | undefined; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    res.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        resolve({ body: undefined, truncated: true });
        res.destroy();
      } else if (keep) chunks.push(chunk);
    });
    res.on('end', () => resolve({ body: keep ? Buffer.concat(chunks).toString('utf8') : undefined, truncated: false }));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(Object.assign(new Error('the response ended before its body did'), { code: 'ECONNRESET' }));
    });
  });
}
