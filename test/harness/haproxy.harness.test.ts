// Proves the HAProxy harness: a real HAProxy health-checks each server on a
// separate check port (as it will check a vigil agent's /role/<group>) and
// sends every request to the server whose check answers 200; when the answers
// flip, the traffic moves; stop() leaves no process and no files behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { dirname } from 'node:path';
import { startHaproxy, type Haproxy } from './haproxy.js';
import { freePort } from './ports.js';

/** An app (answers its name on /) with a separate role port (200 or 503 on /role). */
interface Backend { name: string; appPort: number; rolePort: number; roleStatus: number; servers: Server[] }

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port };
}

async function backend(name: string, roleStatus: number): Promise<Backend> {
  const b: Backend = { name, appPort: 0, rolePort: 0, roleStatus, servers: [] };
  const app = await listen((_req, res) => res.end(`${name}\n`));
  const role = await listen((req, res) => { res.statusCode = req.url === '/role' ? b.roleStatus : 404; res.end(); });
  Object.assign(b, { appPort: app.port, rolePort: role.port, servers: [app.server, role.server] });
  return b;
}

/** One request on a fresh connection (no keep-alive): the name of the server that answered. */
function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += String(d); });
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : `status ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function tenRequests(url: string): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < 10; i++) { const who = await get(url); seen[who] = (seen[who] ?? 0) + 1; }
  return seen;
}

let a: Backend;
let b: Backend;
let h: Haproxy;

before(async () => {
  [a, b] = await Promise.all([backend('a', 200), backend('b', 503)]);
  h = await startHaproxy({
    bind: { host: '127.0.0.1', port: await freePort() }, checkPath: '/role',
    servers: [a, b].map((x) => ({ name: x.name, addr: '127.0.0.1', port: x.appPort, checkPort: x.rolePort })),
  });
});
after(async () => {
  await h?.stop();
  for (const x of [a, b]) for (const s of x?.servers ?? []) s.close();
});

test('only the server whose check answers 200 is UP, and it gets every request', async () => {
  await h.waitStates({ a: 'UP', b: 'DOWN' }, 5000);
  assert.deepEqual(await tenRequests(h.url), { a: 10 });
  assert.match(await h.log(), /Server be\/b is DOWN.*code: 503/);
});

test('flipping the check answers moves the traffic', async () => {
  a.roleStatus = 503;
  b.roleStatus = 200;
  await h.waitStates({ a: 'DOWN', b: 'UP' }, 5000);
  assert.deepEqual(await tenRequests(h.url), { b: 10 });
});

test('with no server UP, HAProxy answers 503 itself', async () => {
  b.roleStatus = 503;
  await h.waitStates({ a: 'DOWN', b: 'DOWN' }, 5000);
  assert.equal(await get(h.url), 'status 503');
});

test('a frontend port already in use fails start with HAProxy\'s own message', async () => {
  const busy = a.appPort;
  await assert.rejects(
    startHaproxy({ bind: { host: '127.0.0.1', port: busy }, checkPath: '/role', servers: [{ name: 'x', addr: '127.0.0.1', port: 1 }] }),
    /haproxy exited[\s\S]*cannot bind socket/i);
});

test('stop() kills HAProxy and deletes its directory; a second stop() is a no-op', async () => {
  const { pid, configFile } = h;
  await h.stop();
  await h.stop();
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  assert.equal(existsSync(dirname(configFile)), false);
});
