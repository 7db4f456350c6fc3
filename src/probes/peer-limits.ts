// Bounds on what a peer (a database server, an HTTP endpoint) can make vigil
// keep. Peer-controlled text ends up in every ProbeResult message, which the
// status book keeps 50 times per probe, the logger writes and /status serves;
// before these bounds a 10 MiB MySQL error message made /status 535 MB, and a
// MySQL packet without end was buffered until the timeout (386 MB in 3 s).

/** The most characters of a message a result keeps. Ample for any real error. */
export const MESSAGE_MAX_CHARS = 4096;

/**
 * `text` cut to `max` characters, saying how much was cut. The kept part is a
 * fresh copy: in V8 a slice of a long string is a view that keeps the whole
 * string alive, which would keep every 10 MiB message in the history anyway.
 */
export function capText(text: string, max = MESSAGE_MAX_CHARS): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // never split a surrogate pair
  const head = Buffer.from(text.slice(0, end), 'utf8').toString('utf8');
  return `${head}… [${text.length - end} more characters cut]`;
}

/**
 * The most bytes one database connection may receive during one probe run.
 * 16 MiB is one maximal MySQL packet: no probe statement gets an answer
 * anywhere near it, and a server that sends more (a packet without end, a
 * result set without end) only makes vigil hold memory until the timeout.
 */
export const PEER_BYTES_PER_RUN = 16 * 1024 * 1024;

export const PEER_TOO_LARGE = 'VIGIL_E_PEER_TOO_LARGE';

/** Destroys the connection's socket; classified as reason `protocol`. */
export class PeerTooLargeError extends Error {
  readonly code = PEER_TOO_LARGE;
  constructor(limit: number) {
    super(`${PEER_TOO_LARGE}: the server sent ${limit / 1024 / 1024} MiB in one probe run, the most a run takes; connection closed `
      + '(a probe\'s answer is never that large: a broken or hostile server, or a probe query that returns far too much)');
    this.name = 'PeerTooLargeError';
  }
}

/** Counts the bytes one connection received in the current run. */
export class ByteBudget {
  private used = 0;

  constructor(readonly limit = PEER_BYTES_PER_RUN) {}

  /** A kept (keepalive) connection starts each run with the full budget. */
  reset(): void {
    this.used = 0;
  }

  /** Counts `n` more bytes; false once the run received more than the limit, less `headroom`. */
  take(n: number, headroom = 0): boolean {
    this.used += n;
    return this.used <= this.limit - headroom;
  }
}
