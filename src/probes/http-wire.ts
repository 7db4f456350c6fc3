// A minimal HTTP/1.1 client for one request over a fresh connection: the
// http probe's default mode. node:http does far more per request than this
// case needs (a new Agent and, for https, a new TLS context per request with
// `agent: false`, an IncomingMessage stream, header objects); here a request
// is one prebuilt Buffer, one socket, one parser and one Promise.
import net from 'node:net';
import tls from 'node:tls';
import { ResponseParser, WireError } from './http-wire-parser.js';
import type { PreparedRequest } from './http-wire-request.js';
import { PeerCertificate } from './tls-peer.js';
import type { WireTls } from './wire-tls.js';

export { prepareRequest, type PreparedRequest } from './http-wire-request.js';
export { WireTls, type WireTlsOptions } from './wire-tls.js';
export { isRedirectStatus, MAX_HEAD_BYTES, PARSE_ERROR, WireError } from './http-wire-parser.js';

export interface ExchangeOptions {
  /** Required for an https request. */
  readonly tls?: WireTls;
  /** Body bytes beyond this cut the response off (`truncated`) and close the connection. */
  readonly limit: number;
  /** Keep the body's text; otherwise it is only counted. */
  readonly keepBody: boolean;
  /** Resolve at the end of a redirect's head (one with a Location); its body is never read. */
  readonly stopAtRedirect: boolean;
  /** Called at the TLS handshake: once verification failed there is no certificate to read. */
  readonly onPeerCertificate?: (cert: tls.DetailedPeerCertificate) => void;
}

export interface WireResponse {
  readonly status: number;
  readonly location: string | undefined;
  /** The body as UTF-8 when `keepBody` and not cut off; else undefined. */
  readonly body: string | undefined;
  readonly bodyBytes: number;
  readonly truncated: boolean;
}

/** How long a completed exchange waits for the server to close before closing itself. */
const LINGER_MS = 1000;

/** As node's own AbortError looks to classifyNetworkError (name, code and message). */
function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: signal.reason });
}

/**
 * Sends `req` on a new connection and reads its response. Rejects with an
 * error carrying a `code`: Node's for connect and TLS failures, ECONNRESET when
 * the connection ends early, VIGIL_E_HTTP_PARSE for a response that is not
 * HTTP, ABORT_ERR when `signal` aborts (the socket is destroyed at once).
 * An error after the response's head also carries `httpStatus`.
 */
export function exchange(req: PreparedRequest, opts: ExchangeOptions, signal: AbortSignal): Promise<WireResponse> {
  return new Promise<WireResponse>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    let socket: net.Socket;
    if (req.secure) {
      const t = opts.tls;
      if (!t) {
        reject(new WireError('an https request needs TLS settings', 'VIGIL_E_HTTP_TLS_SETTINGS'));
        return;
      }
      const onCert = opts.onPeerCertificate;
      const peer = onCert ? new PeerCertificate() : undefined;
      try {
        socket = tls.connect({ host: req.host, port: req.port, servername: t.servername(req), secureContext: t.secureContext(),
          rejectUnauthorized: t.rejectUnauthorized, ...(peer ? { checkServerIdentity: peer.checkServerIdentity } : {}) });
      } catch (err) {
        reject(err);
        return;
      }
      if (onCert && peer) socket.once('secureConnect', () => onCert(peer.of(socket as tls.TLSSocket)));
    } else {
      socket = net.connect(req.port, req.host);
    }
    const parser = new ResponseParser(req.head, opts);
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      // The probe reports the status of a response whose body then failed.
      reject(parser.headDone ? Object.assign(err, { httpStatus: parser.status }) : err);
    };
    const succeed = () => {
      settled = true;
      signal.removeEventListener('abort', onAbort);
      // Cut off: close now (the peer may be flooding). Complete: let the server,
      // asked for `Connection: close`, close first so TIME_WAIT stays on its side
      // and a probe at 1000 connections a second does not run out of local ports.
      if (parser.truncated || socket.readableEnded || !req.serverCloses) socket.destroy();
      else socket.setTimeout(LINGER_MS, () => socket.destroy());
      resolve({ status: parser.status, location: parser.location, body: parser.bodyText(), bodyBytes: parser.bodyBytes, truncated: parser.truncated });
    };
    const onAbort = () => fail(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', (buf: Buffer) => {
      // Bytes after a complete response: not a server that is closing; stop lingering.
      if (settled) {
        socket.destroy();
        return;
      }
      try {
        if (parser.push(buf)) succeed();
      } catch (err) {
        fail(err as Error);
      }
    });
    socket.on('end', () => {
      if (settled) {
        socket.destroy();
        return;
      }
      try {
        parser.end();
        succeed();
      } catch (err) {
        fail(err as Error);
      }
    });
    socket.on('error', (err) => {
      if (settled) socket.destroy();
      else fail(err);
    });
    // A close without 'end' or 'error' (rare) must still settle the Promise;
    // checked first so the usual close (after settling) builds no Error and stack.
    socket.on('close', () => {
      if (!settled) fail(new WireError('socket hang up', 'ECONNRESET'));
    });
    socket.write(req.bytes);
  });
}
