// Maps the error codes Node, undici and database drivers raise to the fixed
// failure reasons, so every network probe reports the same reason for the same
// cause. The message keeps the code for people; the label gets the reason.
import type { FailureReason } from './types.js';
import { PEER_TOO_LARGE } from './peer-limits.js';

const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
const CONNECT = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EADDRNOTAVAIL',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'PROTOCOL_CONNECTION_LOST']);
const TIMEOUT = new Set(['ETIMEDOUT', 'ABORT_ERR', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT', 'UND_ERR_ABORTED']);

/** The peer answered, but not in the protocol we spoke (an SSH banner on an HTTP port, a truncated status line, a packet without end). */
function isProtocolCode(code: string): boolean {
  return code === 'VIGIL_E_HTTP_PARSE' || code === PEER_TOO_LARGE || code.startsWith('HPE_');
}

function isTlsCode(code: string): boolean {
  return code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.startsWith('CERT_')
    || code.includes('SELF_SIGNED') || code.startsWith('UNABLE_TO_') || code === 'HOSTNAME_MISMATCH'
    || code === 'EPROTO' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT';
}

/** The innermost error that carries a code (fetch-style errors wrap the cause). */
function codeOf(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 5; depth++) {
    const e = cur as { code?: unknown; name?: unknown; cause?: unknown };
    if (typeof e.code === 'string' && e.code !== '') return e.code;
    if (e.name === 'AbortError' || e.name === 'TimeoutError') return 'ABORT_ERR';
    cur = e.cause;
  }
  return undefined;
}

export function classifyNetworkError(err: unknown, aborted: boolean): { reason: FailureReason; message: string } {
  const code = codeOf(err) ?? '';
  const text = err instanceof Error ? err.message : String(err);
  const message = code && !text.includes(code) ? `${code}: ${text}` : text;
  if (aborted || TIMEOUT.has(code)) return { reason: 'timeout', message: aborted ? `timed out (${message})` : message };
  if (DNS.has(code)) return { reason: 'dns', message };
  if (CONNECT.has(code)) return { reason: 'connect_refused', message };
  if (isTlsCode(code)) return { reason: 'tls', message };
  if (isProtocolCode(code)) return { reason: 'protocol', message };
  // Not the peer's fault and not a vigil bug: this host is out of descriptors or memory for sockets.
  if (code === 'EMFILE' || code === 'ENFILE' || code === 'ENOBUFS' || code === 'ENOMEM') {
    return { reason: 'internal', message: `this host could not open a connection: ${message} (raise the agent's open-file limit, LimitNOFILE, or probe less at once)` };
  }
  return { reason: 'internal', message };
}

/** A URL safe to show: no user, no password, no query string (tokens live there). */
export function displayUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    const hadQuery = u.search !== '';
    u.search = '';
    // Appended after serialising: set through URL, "…" came out as "%E2%80%A6".
    return `${u.toString()}${hadQuery ? '?…' : ''}`;
  } catch {
    return '(invalid url)';
  }
}
