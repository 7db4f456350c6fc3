// Builds the bytes of one HTTP/1.1 request once, so a probe that runs every
// second re-sends the same Buffer instead of re-serialising its headers.
// What goes on the wire mirrors node:http's `request(url, {agent: false})`:
// the user's headers in their order, then Host, Authorization from the URL's
// user info, `Connection: close` and Content-Length, and no User-Agent (node
// sends none).
import net from 'node:net';

export interface PreparedRequest {
  readonly secure: boolean;
  /** Host to connect to (an IPv6 address without brackets). */
  readonly host: string;
  readonly port: number;
  /** SNI and certificate name when the TLS config names none; undefined for an IP. */
  readonly servername: string | undefined;
  /** Request line, headers and body: written in one write. */
  readonly bytes: Buffer;
  /** HEAD: the response has no body whatever its headers say. */
  readonly head: boolean;
  /** The request says `Connection: close`, so the server will close first. */
  readonly serverCloses: boolean;
}

// The checks node:http makes (_http_common), so a header node would refuse is
// refused here too rather than smuggling a CR LF onto the wire.
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const BAD_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/** A header name node would send (an HTTP token). The config schema checks with this too. */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/** A header value with no CR, LF or other control character. */
export function isHeaderValue(value: string): boolean {
  return !BAD_VALUE_CHAR.test(value);
}

function invalid(code: string, message: string): Error {
  return Object.assign(new TypeError(message), { code });
}

/**
 * Throws (with node's ERR_INVALID_* codes) for a header name or value node
 * would refuse; callers build at config time and report it on each run.
 */
export function prepareRequest(url: URL, method: string, headers: Readonly<Record<string, string>>, body: string | undefined): PreparedRequest {
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') throw invalid('ERR_INVALID_PROTOCOL', `Protocol "${url.protocol}" not supported. Expected "http:" or "https:"`);
  if (!TOKEN.test(method)) throw invalid('ERR_INVALID_HTTP_TOKEN', `Method must be a valid HTTP token ["${method}"]`);
  // Lower-cased name → [name as written, value]; a later spelling replaces an earlier one, as setHeader does.
  const byName = new Map<string, [string, string]>();
  for (const [name, value] of Object.entries(headers)) {
    if (!isHeaderName(name)) throw invalid('ERR_INVALID_HTTP_TOKEN', `Header name must be a valid HTTP token ["${name}"]`);
    if (!isHeaderValue(value)) throw invalid('ERR_INVALID_CHAR', `Invalid character in header content ["${name}"]`);
    byName.set(name.toLowerCase(), [name, value]);
  }
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\n`;
  for (const [name, value] of byName.values()) head += `${name}: ${value}\r\n`;
  const hostHeader = byName.get('host')?.[1];
  if (hostHeader === undefined) head += `Host: ${url.host}\r\n`;
  if ((url.username !== '' || url.password !== '') && !byName.has('authorization')) {
    const auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    head += `Authorization: Basic ${Buffer.from(auth).toString('base64')}\r\n`;
  }
  const connection = byName.get('connection')?.[1];
  if (connection === undefined) head += 'Connection: close\r\n';
  const chunked = /(?:^|,)\s*chunked\s*$/i.test(byName.get('transfer-encoding')?.[1] ?? '');
  let payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
  if (chunked) {
    // The user asked for chunked framing: node would chunk the body, so do we.
    const data = payload ?? Buffer.alloc(0);
    payload = Buffer.concat([data.length ? Buffer.from(`${data.length.toString(16)}\r\n`) : Buffer.alloc(0), data, Buffer.from(data.length ? '\r\n0\r\n\r\n' : '0\r\n\r\n')]);
  } else if (!byName.has('content-length') && !byName.has('transfer-encoding')) {
    // node sends no length for a bodiless GET/HEAD/DELETE/OPTIONS and 0 for the
    // others. Unlike node, a body on GET/DELETE/OPTIONS gets its length too:
    // without one the server reads those bytes as the next request.
    if (payload !== undefined) head += `Content-Length: ${payload.length}\r\n`;
    else if (method === 'POST' || method === 'PUT' || method === 'PATCH') head += 'Content-Length: 0\r\n';
  }
  head += '\r\n';
  const headBytes = Buffer.from(head, 'latin1');
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    secure,
    host: hostname,
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    servername: serverName(hostHeader ?? hostname),
    bytes: payload === undefined ? headBytes : Buffer.concat([headBytes, payload]),
    head: method === 'HEAD',
    serverCloses: connection === undefined || /(?:^|,)\s*close\s*(?:,|$)/i.test(connection),
  };
}

/** As node's https agent derives it: from the Host header, never an IP. */
function serverName(host: string): string | undefined {
  let name = host;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    name = end === -1 ? host : host.slice(1, end);
  } else if (host.includes(':')) {
    // abc:123 → abc; a bare IPv6 address (no brackets) stays whole and is dropped as an IP below.
    if (!net.isIPv6(host)) name = host.slice(0, host.indexOf(':'));
  }
  return name === '' || net.isIP(name) !== 0 ? undefined : name;
}
