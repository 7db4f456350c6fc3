// A PostgreSQL server that misbehaves on purpose, speaking just enough of the
// v3 protocol (SSLRequest, StartupMessage, Authentication*, ErrorResponse) to
// play the hostile peers of issue 11: one that asks for the password in clear
// or as MD5, one that answers with an enormous error message, one that sends
// a message without end. It records every byte the client sent (plaintext
// after TLS) and every password message, so tests assert on what a fake
// server obtained.
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';

export type FakePostgresReply =
  | { kind: 'cleartext' }
  | { kind: 'md5' }
  /** ErrorResponse (FATAL) after the startup message. */
  | { kind: 'error'; code?: string; message: string }
  /** An ErrorResponse whose length says 2 GiB, then bytes until the client goes away. */
  | { kind: 'endless' };

export interface FakePostgresOptions {
  /** Accept SSLRequest with this certificate (nothing is verified here); without it, answer 'N'. */
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly reply: FakePostgresReply;
}

export interface FakePostgresServer {
  readonly port: number;
  readonly host: string;
  received(): Buffer;
  /** The bodies of the client's PasswordMessages ('p'): a cleartext password or "md5…". */
  readonly passwordMessages: string[];
  bytesSent(): number;
  connections(): number;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function auth(code: number, extra = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(code);
  return message('R', Buffer.concat([b, extra]));
}

function errorResponse(code: string, text: string): Buffer {
  const field = (t: string, v: string) => Buffer.concat([Buffer.from(t, 'latin1'), Buffer.from(`${v}\0`, 'utf8')]);
  return message('E', Buffer.concat([field('S', 'FATAL'), field('V', 'FATAL'), field('C', code), field('M', text), Buffer.from([0])]));
}

export async function startFakePostgres(opts: FakePostgresOptions): Promise<FakePostgresServer> {
  const chunks: Buffer[] = [];
  const passwordMessages: string[] = [];
  const sockets = new Set<net.Socket>();
  let sent = 0;
  let accepted = 0;

  const server = net.createServer((raw) => {
    accepted++;
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    let sock: net.Socket = raw;
    let buf = Buffer.alloc(0);
    let started = false;
    const send = (b: Buffer) => { sent += b.length; sock.write(b); };
    const endless = () => {
      const head = Buffer.alloc(5);
      head.write('E', 0, 'latin1');
      head.writeInt32BE(0x7fffffff, 1);
      send(head);
      const body = Buffer.alloc(64 * 1024, 0x41);
      const pump = () => {
        while (!sock.destroyed) {
          sent += body.length;
          if (!sock.write(body)) { sock.once('drain', pump); return; }
        }
      };
      pump();
    };
    const upgrade = () => {
      // As in the MySQL fake: bytes already read go through the TLS layer first.
      raw.removeListener('data', onData);
      const rest = buf;
      buf = Buffer.alloc(0);
      const carrier = new Duplex({ read() {}, write(chunk, _enc, cb) { raw.write(chunk, cb); } });
      if (rest.length > 0) carrier.push(rest);
      raw.on('data', (d: Buffer) => carrier.push(d));
      raw.on('end', () => carrier.push(null));
      const secure = new tls.TLSSocket(carrier as unknown as net.Socket, { isServer: true, cert: opts.tls!.cert, key: opts.tls!.key });
      secure.on('error', () => undefined);
      secure.on('data', onData);
      sock = secure;
    };
    const onStartup = () => {
      const r = opts.reply;
      if (r.kind === 'cleartext') send(auth(3));
      else if (r.kind === 'md5') send(auth(5, Buffer.from([0x11, 0x22, 0x33, 0x44])));
      else if (r.kind === 'error') { send(errorResponse(r.code ?? '28000', r.message)); sock.end(); }
      else endless();
    };
    const onData = (d: Buffer) => {
      chunks.push(Buffer.from(d));
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (!started) {
          if (buf.length < 8) return;
          const len = buf.readInt32BE(0);
          if (buf.length < len) return;
          const code = buf.readInt32BE(4);
          buf = buf.subarray(len);
          if (code === SSL_REQUEST) {
            raw.write(opts.tls ? 'S' : 'N');
            if (opts.tls) { upgrade(); return; }
            continue;
          }
          started = true;
          onStartup();
          continue;
        }
        if (buf.length < 5) return;
        const len = buf.readInt32BE(1);
        if (buf.length < 1 + len) return;
        const type = String.fromCharCode(buf[0]);
        const body = buf.subarray(5, 1 + len);
        buf = buf.subarray(1 + len);
        if (type === 'p') {
          passwordMessages.push(body.toString('utf8').replace(/\0$/, ''));
          send(errorResponse('28P01', 'password authentication failed'));
          sock.end();
        }
      }
    };
    raw.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    host: '127.0.0.1',
    received: () => Buffer.concat(chunks),
    passwordMessages,
    bytesSent: () => sent,
    connections: () => accepted,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
