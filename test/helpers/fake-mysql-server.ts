// A MySQL server that misbehaves on purpose, speaking just enough of the wire
// protocol (handshake v10, TLS upgrade, auth switch / more-data, ERR) to play
// the hostile peers of issue 11: one that asks for the password in a form it
// can read (caching_sha2_password full authentication with its own RSA key,
// a switch to mysql_clear_password or sha256_password), one that answers with
// an enormous error message, one that sends a packet without end.
//
// It records every byte the client sent (after TLS: the plaintext) and every
// password it managed to read, so a test asserts on what a fake server
// obtained rather than on what the client meant to do.
import { constants, generateKeyPairSync, privateDecrypt, randomBytes } from 'node:crypto';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';

const CLIENT = {
  LONG_PASSWORD: 0x1, CONNECT_WITH_DB: 0x8, PROTOCOL_41: 0x200, SSL: 0x800, TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000, MULTI_RESULTS: 0x20000, PLUGIN_AUTH: 0x80000, PLUGIN_AUTH_LENENC: 0x200000,
} as const;
const MAX_PAYLOAD = 0xffffff;

export type FakeMysqlReply =
  /** Like a MySQL 8 whose cache misses: AuthMoreData 0x04, then its own RSA key on request. */
  | { kind: 'full-auth' }
  /** AuthSwitchRequest to this plugin (mysql_clear_password, sha256_password); hands out its key on request. */
  | { kind: 'switch'; plugin: string }
  /** ERR packet after the client's handshake response. */
  | { kind: 'error'; errno?: number; message: string }
  /** Packets of the largest size, one after another, until the client goes away. */
  | { kind: 'endless' };

export interface FakeMysqlOptions {
  /** The plugin the greeting announces (default mysql_native_password). */
  readonly plugin?: string;
  /** Offer TLS with this certificate (any client that asks gets it: nothing is verified here). */
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly reply: FakeMysqlReply;
}

export interface FakeMysqlServer {
  readonly port: number;
  readonly address: string;
  /** Everything clients sent, per connection, concatenated (plaintext after TLS). */
  received(): Buffer;
  /** The RSA public key it hands out when asked (PEM). */
  readonly publicKeyPem: string;
  /** Passwords the server read: sent in clear or encrypted to its own key. */
  readonly learned: string[];
  /** Bytes the server wrote to clients (the endless reply counts here). */
  bytesSent(): number;
  connections(): number;
  close(): Promise<void>;
}

function packet(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq & 0xff;
  return Buffer.concat([h, payload]);
}

function cstr(s: string): Buffer { return Buffer.from(`${s}\0`, 'utf8'); }

function greeting(plugin: string, scramble: Buffer, withTls: boolean): Buffer {
  const caps = CLIENT.LONG_PASSWORD | CLIENT.CONNECT_WITH_DB | CLIENT.PROTOCOL_41 | CLIENT.TRANSACTIONS
    | CLIENT.SECURE_CONNECTION | CLIENT.MULTI_RESULTS | CLIENT.PLUGIN_AUTH | CLIENT.PLUGIN_AUTH_LENENC | (withTls ? CLIENT.SSL : 0);
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let o = fixed.writeUInt32LE(77, 0);
  o += scramble.copy(fixed, o, 0, 8);
  o = fixed.writeUInt8(0, o);
  o = fixed.writeUInt16LE(caps & 0xffff, o);
  o = fixed.writeUInt8(45, o); // utf8mb4_general_ci
  o = fixed.writeUInt16LE(2, o); // SERVER_STATUS_AUTOCOMMIT
  o = fixed.writeUInt16LE(caps >>> 16, o);
  fixed.writeUInt8(21, o);
  return Buffer.concat([Buffer.from([10]), cstr('8.0.36-fake'), fixed, scramble.subarray(8, 20), Buffer.from([0]), cstr(plugin)]);
}

function errPacket(errno: number, message: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(errno, 1);
  return Buffer.concat([head, Buffer.from('#28000', 'latin1'), Buffer.from(message, 'utf8')]);
}

/** The auth data and plugin a HandshakeResponse41 carries (after the user; the database sits between). */
function parseResponse(p: Buffer): { authData: Buffer; plugin: string | undefined } {
  const flags = p.readUInt32LE(0);
  let o = p.indexOf(0, 32) + 1; // user
  let len: number;
  if (flags & CLIENT.PLUGIN_AUTH_LENENC) {
    const first = p[o];
    const [n, size] = first < 0xfb ? [first, 1] : first === 0xfc ? [p.readUInt16LE(o + 1), 3] : [p.readUIntLE(o + 1, 3), 4];
    len = n;
    o += size;
  } else { len = p[o]; o += 1; }
  const authData = p.subarray(o, o + len);
  o += len;
  if (flags & CLIENT.CONNECT_WITH_DB) o = p.indexOf(0, o) + 1;
  return { authData, plugin: flags & CLIENT.PLUGIN_AUTH ? p.toString('latin1', o, p.indexOf(0, o)) : undefined };
}

const xorRotating = (data: Buffer, scramble: Buffer) => Buffer.from(data.map((b, i) => b ^ scramble[i % scramble.length]));

export async function startFakeMysql(opts: FakeMysqlOptions): Promise<FakeMysqlServer> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const chunks: Buffer[] = [];
  const learned: string[] = [];
  const sockets = new Set<net.Socket>();
  let sent = 0;
  let accepted = 0;

  /** A password read from an auth packet: in clear ("pw\0") or RSA-encrypted to our key. */
  const learn = (data: Buffer, scramble: Buffer) => {
    for (const oaepHash of ['sha1', undefined]) {
      try {
        const plain = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, data);
        learned.push(xorRotating(plain, scramble).toString('utf8').replace(/\0$/, ''));
        return;
      } catch { /* not for our key: try the cleartext form */ }
    }
    if (data.length > 1 && data[data.length - 1] === 0) learned.push(data.toString('utf8', 0, data.length - 1));
  };

  const server = net.createServer((raw) => {
    accepted++;
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    let sock: net.Socket = raw;
    let buf = Buffer.alloc(0);
    let seq = 0;
    let scramble = Buffer.from(randomBytes(20).map((b) => 0x21 + (b % 90)));
    let stage: 'response' | 'switched' | 'auth' | 'key-sent' | 'done' = 'response';
    const send = (payload: Buffer) => {
      seq = (seq + 1) & 0xff;
      const bytes = packet(seq, payload);
      sent += bytes.length;
      sock.write(bytes);
    };
    const deny = () => { stage = 'done'; send(errPacket(1045, 'Access denied')); sock.end(); };
    const endless = () => {
      // Headers of maximal packets with zero payload bytes, forever: the client can only buffer them.
      const body = Buffer.alloc(64 * 1024);
      let left = 0;
      const pump = () => {
        while (!sock.destroyed) {
          let out: Buffer;
          if (left === 0) { seq = (seq + 1) & 0xff; out = packet(seq, Buffer.alloc(0)); out.writeUIntLE(MAX_PAYLOAD, 0, 3); left = MAX_PAYLOAD; }
          else { out = left >= body.length ? body : body.subarray(0, left); left -= out.length; }
          sent += out.length;
          if (!sock.write(out)) { sock.once('drain', pump); return; }
        }
      };
      pump();
    };
    const onPacket = (p: Buffer, pseq: number) => {
      seq = pseq;
      if (stage === 'response' && opts.tls && p.length === 32 && (p.readUInt32LE(0) & CLIENT.SSL) && sock === raw) {
        // The client's TLS hello may already sit behind the SSLRequest in our buffer: TLS
        // runs over a JS stream fed with those bytes first, then with the socket's.
        raw.removeListener('data', onData);
        const rest = buf;
        buf = Buffer.alloc(0);
        const carrier = new Duplex({ read() {}, write(chunk, _enc, cb) { raw.write(chunk, cb); } });
        if (rest.length > 0) carrier.push(rest);
        raw.on('data', (d: Buffer) => carrier.push(d));
        raw.on('end', () => carrier.push(null));
        const secure = new tls.TLSSocket(carrier as unknown as net.Socket, { isServer: true, cert: opts.tls.cert, key: opts.tls.key });
        secure.on('error', () => undefined);
        secure.on('data', onData);
        sock = secure;
        return;
      }
      if (stage === 'response') {
        stage = 'auth';
        const r = opts.reply;
        if (r.kind === 'error') { stage = 'done'; send(errPacket(r.errno ?? 1045, r.message)); sock.end(); return; }
        if (r.kind === 'endless') { stage = 'done'; endless(); return; }
        const want = r.kind === 'full-auth' ? 'caching_sha2_password' : r.plugin;
        const response = parseResponse(p);
        if (response.plugin === want) {
          // The client answered for the greeting's plugin right away.
          if (r.kind === 'full-auth') { send(Buffer.from([1, 4])); return; }
          onPacket(response.authData, seq);
          return;
        }
        // As a real server does when the client answered for another plugin.
        scramble = Buffer.from(randomBytes(20).map((b) => 0x21 + (b % 90)));
        send(Buffer.concat([Buffer.from([0xfe]), cstr(want), scramble, Buffer.from([0])]));
        if (r.kind === 'full-auth') stage = 'switched';
        return;
      }
      if (stage === 'switched') { stage = 'auth'; send(Buffer.from([1, 4])); return; }
      if (stage === 'auth' && p.length === 1 && (p[0] === 2 || p[0] === 1)) {
        // "Send me your public key" (2 for caching_sha2_password, 1 for sha256_password).
        stage = 'key-sent';
        send(Buffer.concat([Buffer.from([1]), Buffer.from(pem)]));
        return;
      }
      if (stage === 'auth' || stage === 'key-sent') { learn(p, scramble); deny(); }
    };
    const onData = (d: Buffer) => {
      chunks.push(Buffer.from(d));
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        const len = buf.readUIntLE(0, 3);
        if (buf.length < 4 + len) break;
        const pseq = buf[3];
        const p = buf.subarray(4, 4 + len);
        buf = buf.subarray(4 + len);
        onPacket(p, pseq);
      }
    };
    raw.on('data', onData);
    const hello = packet(0, greeting(opts.plugin ?? 'mysql_native_password', scramble, opts.tls !== undefined));
    sent += hello.length;
    raw.write(hello);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    received: () => Buffer.concat(chunks),
    publicKeyPem: pem,
    learned,
    bytesSent: () => sent,
    connections: () => accepted,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
