// A small TCP proxy on loopback that a test can sever and restore: the
// network path between one agent and a server, cut without touching the
// server (which keeps serving everyone else). The target is fixed, or read
// from a file on every new connection so a hook can move it (a stand-in for
// a DNS name or a VIP that post_promote switches).
import net from 'node:net';
import { readFileSync } from 'node:fs';

export interface TcpProxy {
  readonly port: number;
  /** Drops every open connection and resets new ones until restore(). */
  sever(): void;
  restore(): void;
  readonly severed: boolean;
  /** Where the next connection goes. */
  target(): { host: string; port: number };
  close(): Promise<void>;
}

export type ProxyTarget = { host: string; port: number } | { file: string };

function resolveTarget(t: ProxyTarget): { host: string; port: number } {
  if (!('file' in t)) return t;
  const text = readFileSync(t.file, 'utf8').trim();
  const i = text.lastIndexOf(':');
  return { host: text.slice(0, i), port: Number(text.slice(i + 1)) };
}

export async function startTcpProxy(target: ProxyTarget): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let severed = false;
  const server = net.createServer((client) => {
    if (severed) { client.resetAndDestroy(); return; }
    let to: { host: string; port: number };
    try { to = resolveTarget(target); } catch { client.resetAndDestroy(); return; }
    const upstream = net.connect(to);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      open.delete(client);
      open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get severed() { return severed; },
    sever() {
      severed = true;
      for (const s of open) s.resetAndDestroy();
      open.clear();
    },
    restore() { severed = false; },
    target: () => resolveTarget(target),
    close: () => new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    }),
  };
}
