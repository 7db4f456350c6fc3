// Real local servers for the probes to talk to: node:http, node:https and a
// raw TCP listener that accepts and never answers. All bind 127.0.0.1 on port 0
// and close every socket they accepted, so no test leaks a connection.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

export interface TestServer {
  readonly port: number;
  /** http(s)://127.0.0.1:PORT */
  readonly origin: string;
  /** Connections accepted so far (a fresh connection per probe is visible here). */
  connections(): number;
  close(): Promise<void>;
}

function track(server: net.Server): { sockets: Set<net.Socket>; count: () => number } {
  const sockets = new Set<net.Socket>();
  let count = 0;
  server.on('connection', (s: net.Socket) => {
    count++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // https counts the TLS socket too: count raw TCP connections only.
  return { sockets, count: () => count };
}

async function listen(server: net.Server, scheme: string): Promise<TestServer> {
  const t = track(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    origin: `${scheme}://127.0.0.1:${port}`,
    connections: t.count,
    close: () => new Promise<void>((resolve) => {
      for (const s of t.sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

export function startHttpServer(handler: http.RequestListener): Promise<TestServer> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 60_000;
  return listen(server, 'http');
}

export function startHttpsServer(tls: { cert: string; key: string }, handler: http.RequestListener): Promise<TestServer> {
  const server = https.createServer({ cert: tls.cert, key: tls.key }, handler);
  server.keepAliveTimeout = 60_000;
  return listen(server, 'https');
}

/** Accepts connections and never sends a byte: the server that hangs. */
export function startSilentServer(): Promise<TestServer> {
  return listen(net.createServer(() => undefined), 'http');
}

/** A port nothing listens on (bound then released; the kernel won't reuse it at once). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export const freePort = closedPort;
