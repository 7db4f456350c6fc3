// Incremental parser for one HTTP/1.x response on a connection that carries
// nothing else: status line, headers (only the few the probe needs are kept),
// interim 1xx responses skipped, then the body framed by chunked encoding,
// Content-Length or the connection's end. Bytes are scanned with indexOf on
// the socket's own Buffers; only header lines become (latin1) strings.

/** Status line plus headers (interim responses included) may not exceed this. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line (hex size plus extensions). */
const MAX_CHUNK_LINE = 4096;

export const PARSE_ERROR = 'VIGIL_E_HTTP_PARSE';

export class WireError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

function parseError(what: string): WireError {
  return new WireError(`invalid HTTP response: ${what}`, PARSE_ERROR);
}

function shown(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/** The redirects a probe follows (when they carry a Location). */
export function isRedirectStatus(code: number): boolean {
  return code === 301 || code === 302 || code === 303 || code === 307 || code === 308;
}

const STATUS = 0;
const HEADER = 1;
const BODY_LENGTH = 2;
const BODY_CLOSE = 3;
const CHUNK_SIZE = 4;
const CHUNK_DATA = 5;
const CHUNK_END = 6;
const TRAILER = 7;
const DONE = 8;

const LF = 10;
const CR = 13;
const HTTP_PREFIX = 'HTTP/';

export interface ParserOptions {
  /** Body bytes beyond this cut the response off (`truncated`). */
  readonly limit: number;
  /** Keep the body's bytes for `bodyText()`; otherwise they are only counted. */
  readonly keepBody: boolean;
  /** Complete at the end of a redirect's head: a followed redirect's body is never read. */
  readonly stopAtRedirect: boolean;
}

export class ResponseParser {
  status = 0;
  location: string | undefined = undefined;
  bodyBytes = 0;
  /** More than `limit` body bytes arrived; the rest was not read. */
  truncated = false;

  private state = STATUS;
  private readonly chunks: Buffer[] | undefined;
  /** Pieces of a line not yet ended by LF (it spans reads). */
  private partial: Buffer[] | undefined = undefined;
  private partialBytes = 0;
  private headBytes = 0;
  private contentLength = -1;
  private chunked = false;
  /** A Transfer-Encoding header was seen (chunked or not). */
  private transferEncoding = false;
  /** The previous header line was one of those read here (a fold after it would change its meaning). */
  private readHeader = false;
  /** Bytes left in the Content-Length body or the current chunk. */
  private remaining = 0;
  /** How many bytes of the status line's "HTTP/" have been checked. */
  private prefixChecked = 0;
  private sawBytes = false;

  /** `head`: the request was HEAD, so no body whatever the headers say. */
  constructor(private readonly head: boolean, private readonly opts: ParserOptions) {
    this.chunks = opts.keepBody ? [] : undefined;
  }

  /** The final response's status line and headers have arrived (its body may not have). */
  get headDone(): boolean {
    return this.state > HEADER;
  }

  /** Feeds one read; true once the response is complete or cut off. Throws a WireError for a malformed response. */
  push(buf: Buffer): boolean {
    const len = buf.length;
    let pos = 0;
    if (len > 0) this.sawBytes = true;
    while (pos < len) {
      const state = this.state;
      if (state === BODY_LENGTH || state === CHUNK_DATA || state === BODY_CLOSE) {
        const end = state === BODY_CLOSE ? len : Math.min(len, pos + this.remaining);
        if (this.body(buf, pos, end)) return true;
        this.remaining -= end - pos;
        pos = end;
        if (state !== BODY_CLOSE && this.remaining === 0) {
          if (state === BODY_LENGTH) return this.finish();
          this.state = CHUNK_END;
        }
        continue;
      }
      if (state === DONE) return true;
      if (state === STATUS && this.prefixChecked < HTTP_PREFIX.length) {
        pos = this.checkPrefix(buf, pos);
        if (pos === len) break;
      }
      const nl = buf.indexOf(LF, pos);
      if (nl === -1) {
        this.keepPartial(buf, pos, len);
        break;
      }
      const line = this.takeLine(buf, pos, nl);
      pos = nl + 1;
      if (this.line(line)) return true;
    }
    return this.state === DONE;
  }

  /**
   * The peer closed the connection. Returns normally when that completed the
   * response (a body delimited by the close); throws otherwise.
   */
  end(): void {
    if (this.state === DONE) return;
    if (this.state === BODY_CLOSE) {
      this.state = DONE;
      return;
    }
    if (this.state === STATUS || this.state === HEADER) {
      if (this.state === STATUS && this.partialBytes > 0 && this.prefixChecked >= HTTP_PREFIX.length) {
        throw parseError(`status line ${shown(Buffer.concat(this.partial ?? []).toString('latin1'))} ended by the connection's close`);
      }
      // As node:http says it when the connection ends before a response.
      throw new WireError(this.sawBytes ? 'socket hang up (the response headers were cut off)' : 'socket hang up', 'ECONNRESET');
    }
    throw new WireError('the response ended before its body did', 'ECONNRESET');
  }

  /** The body as UTF-8 text (only when kept and not cut off). */
  bodyText(): string | undefined {
    const chunks = this.chunks;
    if (!chunks || this.truncated) return undefined;
    if (chunks.length === 0) return '';
    if (chunks.length === 1) return chunks[0].toString('utf8');
    return Buffer.concat(chunks, this.bodyBytes).toString('utf8');
  }

  /** Fails fast on a peer that does not speak HTTP (an SSH banner, TLS, garbage) instead of waiting for a newline. */
  private checkPrefix(buf: Buffer, pos: number): number {
    const len = buf.length;
    // Empty lines before a status line are tolerated (RFC 9112 §2.2).
    if (this.prefixChecked === 0 && this.partialBytes === 0) {
      while (pos < len && (buf[pos] === CR || buf[pos] === LF)) {
        pos++;
        this.countHead(1);
      }
    }
    let i = pos;
    while (i < len && this.prefixChecked < HTTP_PREFIX.length) {
      if (buf[i] !== HTTP_PREFIX.charCodeAt(this.prefixChecked)) {
        const nl = buf.indexOf(LF, i);
        const seen = Buffer.concat([...(this.partial ?? []), buf.subarray(pos, nl === -1 ? Math.min(len, pos + 80) : nl)]);
        throw parseError(`status line ${shown(seen.toString('latin1').replace(/\r$/, ''))}`);
      }
      this.prefixChecked++;
      i++;
    }
    return pos;
  }

  private keepPartial(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n === 0) return;
    this.partialBytes += n;
    this.checkLineBudget(0);
    (this.partial ??= []).push(buf.subarray(start, end));
  }

  /** The line [start, nl) plus any partial pieces, without its CR, as latin1. */
  private takeLine(buf: Buffer, start: number, nl: number): string {
    this.checkLineBudget(nl + 1 - start);
    let line: string;
    if (this.partial === undefined) {
      const end = nl > start && buf[nl - 1] === CR ? nl - 1 : nl;
      line = buf.toString('latin1', start, end);
    } else {
      this.partial.push(buf.subarray(start, nl));
      const joined = Buffer.concat(this.partial);
      line = joined.toString('latin1', 0, joined.length > 0 && joined[joined.length - 1] === CR ? joined.length - 1 : joined.length);
    }
    if (this.state === STATUS || this.state === HEADER || this.state === TRAILER) this.countHead(this.partialBytes + nl + 1 - start);
    this.partial = undefined;
    this.partialBytes = 0;
    return line;
  }

  private checkLineBudget(more: number): void {
    if (this.state === CHUNK_SIZE || this.state === CHUNK_END) {
      if (this.partialBytes + more > MAX_CHUNK_LINE) throw parseError(`chunk-size line longer than ${MAX_CHUNK_LINE} bytes`);
    } else if (this.headBytes + this.partialBytes + more > MAX_HEAD_BYTES) {
      throw parseError(`header section larger than ${MAX_HEAD_BYTES} bytes`);
    }
  }

  private countHead(n: number): void {
    this.headBytes += n;
    if (this.headBytes > MAX_HEAD_BYTES) throw parseError(`header section larger than ${MAX_HEAD_BYTES} bytes`);
  }

  /** One complete line in a line state; true when the response is complete. */
  private line(line: string): boolean {
    switch (this.state) {
      case STATUS: this.statusLine(line); return false;
      case HEADER: return line.length === 0 ? this.endOfHead() : (this.header(line), false);
      case CHUNK_SIZE: return this.chunkSize(line);
      case CHUNK_END:
        if (line.length !== 0) throw parseError('chunk data not followed by CRLF');
        this.state = CHUNK_SIZE;
        return false;
      default: // TRAILER: trailers are ignored; an empty line ends the message.
        return line.length === 0 ? this.finish() : false;
    }
  }

  private statusLine(line: string): void {
    // HTTP/d.d SP ddd [SP reason]
    const c = (i: number) => line.charCodeAt(i) - 48;
    const digit = (i: number) => c(i) >= 0 && c(i) <= 9;
    if (line.length < 12 || !digit(5) || line[6] !== '.' || !digit(7) || line[8] !== ' '
      || !digit(9) || !digit(10) || !digit(11) || (line.length > 12 && line[12] !== ' ') || c(9) === 0) {
      throw parseError(`status line ${shown(line)}`);
    }
    this.status = c(9) * 100 + c(10) * 10 + c(11);
    this.state = HEADER;
  }

  private header(line: string): void {
    const first = line.charCodeAt(0);
    // obs-fold: a continuation of the previous value. Ignored for headers not
    // read here; for those it would change the meaning (a split Content-Length).
    if (first === 32 || first === 9) {
      if (this.readHeader) throw parseError(`folded header line ${shown(line)}`);
      return;
    }
    this.readHeader = false;
    const colon = line.indexOf(':');
    if (colon <= 0 || line.charCodeAt(colon - 1) === 32 || line.charCodeAt(colon - 1) === 9) throw parseError(`header line ${shown(line)}`);
    // Only names of these lengths can matter: no lower-casing or slicing for the rest.
    if (colon !== 8 && colon !== 14 && colon !== 17) return;
    const name = line.slice(0, colon).toLowerCase();
    this.readHeader = name === 'location' || name === 'content-length' || name === 'transfer-encoding';
    if (name === 'location') {
      // The first one counts, as node:http keeps it.
      this.location ??= line.slice(colon + 1).trim();
    } else if (name === 'content-length') {
      const text = line.slice(colon + 1).trim();
      let n = 0;
      for (let i = 0; i < text.length; i++) {
        const d = text.charCodeAt(i) - 48;
        if (d < 0 || d > 9 || n > Number.MAX_SAFE_INTEGER / 10) throw parseError(`Content-Length ${shown(text)}`);
        n = n * 10 + d;
      }
      if (text.length === 0 || (this.contentLength !== -1 && this.contentLength !== n)) throw parseError(`Content-Length ${shown(text)}`);
      this.contentLength = n;
    } else if (name === 'transfer-encoding') {
      // Chunked only when it is the final coding (RFC 9112 §6.3); otherwise the close delimits the body.
      this.chunked = /(?:^|,)[ \t]*chunked[ \t]*$/i.test(line.slice(colon + 1));
      this.transferEncoding = true;
    }
  }

  private endOfHead(): boolean {
    const status = this.status;
    if (status < 200 && status !== 101) {
      // An interim response (100 Continue, 103 Early Hints): the real one follows.
      this.state = STATUS;
      this.prefixChecked = 0;
      this.contentLength = -1;
      this.chunked = false;
      this.transferEncoding = false;
      this.readHeader = false;
      this.location = undefined;
      return false;
    }
    if (this.opts.stopAtRedirect && this.location !== undefined && isRedirectStatus(status)) return this.finish();
    if (this.head || status === 204 || status === 304 || status === 101) return this.finish();
    // Which one frames the body is exactly how request smuggling starts: refused, as node's parser does.
    if (this.transferEncoding && this.contentLength >= 0) throw parseError('both Transfer-Encoding and Content-Length');
    if (this.chunked) {
      this.state = CHUNK_SIZE;
    } else if (this.contentLength >= 0) {
      if (this.contentLength === 0) return this.finish();
      this.remaining = this.contentLength;
      this.state = BODY_LENGTH;
    } else {
      this.state = BODY_CLOSE;
    }
    return false;
  }

  private chunkSize(line: string): boolean {
    let n = 0;
    let i = 0;
    for (; i < line.length; i++) {
      const ch = line.charCodeAt(i);
      const d = ch >= 48 && ch <= 57 ? ch - 48 : ch >= 97 && ch <= 102 ? ch - 87 : ch >= 65 && ch <= 70 ? ch - 55 : -1;
      if (d < 0) break;
      if (n > Number.MAX_SAFE_INTEGER / 16) throw parseError(`chunk size ${shown(line)}`);
      n = n * 16 + d;
    }
    const rest = line.charCodeAt(i);
    // Extensions (;name=value) and whitespace after the size are allowed and ignored.
    if (i === 0 || (i < line.length && rest !== 59 && rest !== 32 && rest !== 9)) throw parseError(`chunk size ${shown(line)}`);
    if (n === 0) {
      this.state = TRAILER;
      return false;
    }
    this.remaining = n;
    this.state = CHUNK_DATA;
    return false;
  }

  /** Body bytes [start, end) of `buf`; true when they cut the response off. */
  private body(buf: Buffer, start: number, end: number): boolean {
    const n = end - start;
    if (n === 0) return false;
    this.bodyBytes += n;
    if (this.bodyBytes > this.opts.limit) {
      this.truncated = true;
      this.state = DONE;
      return true;
    }
    // A small slice is copied: kept as a view it would pin the whole read
    // buffer, and a body of many tiny chunks would hold thousands of times
    // the limit in memory.
    this.chunks?.push(n * 2 < buf.length ? Buffer.from(buf.subarray(start, end)) : buf.subarray(start, end));
    return false;
  }

  private finish(): true {
    this.state = DONE;
    return true;
  }
}
