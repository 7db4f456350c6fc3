// The coordination client against a real etcd that serves TLS only and has
// authentication on: the `tls:` and `username`/`password_file` options of
// `coordination.etcd` must reach etcd, and a wrong CA or password must fail.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '../harness/require-binary.js';
import { freePort } from '../harness/ports.js';
import { createEtcdClient, etcdConfigSchema } from '../../src/coordination/etcd-client.js';
import { tryLock } from '../../src/coordination/lock.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-etcd-tls-'));
let etcd: ChildProcess | undefined;
let endpoint = '';
const f = (name: string) => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync(requireBinary('openssl', 'openssl'), args, { stdio: 'ignore' });
}

function etcdctl(...args: string[]): void {
  execFileSync(requireBinary('etcdctl', 'etcd-client'), [`--endpoints=https://${endpoint}`, `--cacert=${f('ca.pem')}`, ...args],
    { stdio: 'ignore', env: { ...process.env, ETCDCTL_API: '3' } });
}

before(async () => {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca-key.pem'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=vigil-test-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server-key.pem'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial',
    '-out', f('server.pem'), '-days', '1', '-extfile', f('san.ext'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('other-key.pem'), '-out', f('other-ca.pem'), '-days', '1', '-subj', '/CN=someone-else');
  const [client, peer, metrics] = [await freePort(), await freePort(), await freePort()];
  endpoint = `127.0.0.1:${client}`;
  etcd = spawn(requireBinary('etcd', 'etcd-server'), [
    '--name', 'tls', '--data-dir', f('data'),
    '--listen-client-urls', `https://${endpoint}`, '--advertise-client-urls', `https://${endpoint}`,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `tls=http://127.0.0.1:${peer}`, '--listen-metrics-urls', `http://127.0.0.1:${metrics}`,
    '--cert-file', f('server.pem'), '--key-file', f('server-key.pem'),
  ], { stdio: 'ignore' });
  const t0 = Date.now();
  for (;;) {
    try { etcdctl('endpoint', 'health'); break; } catch (err) {
      if (Date.now() - t0 > 20_000 || etcd.exitCode !== null) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  etcdctl('user', 'add', 'root:root-pw-1234');
  etcdctl('user', 'grant-role', 'root', 'root');
  etcdctl('auth', 'enable');
  writeFileSync(f('etcd.pw'), 'root-pw-1234\n');
});

after(async () => {
  if (etcd && etcd.exitCode === null) { etcd.kill('SIGKILL'); await once(etcd, 'exit'); }
  rmSync(dir, { recursive: true, force: true });
});

function client(over: Record<string, unknown>) {
  return createEtcdClient(etcdConfigSchema({}).parse({ endpoints: [endpoint], request_timeout: '2s', ...over }));
}

test('TLS with the cluster CA and a password from password_file: reads, writes and locks', async () => {
  const c = client({ tls: { ca_file: f('ca.pem') }, username: 'root', password_file: f('etcd.pw') });
  try {
    await c.put('/vigil/tls-check').value('ok');
    assert.equal(await c.get('/vigil/tls-check').string(), 'ok');
    const lock = await tryLock(c, '/vigil/clusters/orders/lock', { member: 'db2', purpose: 'test', since: '' }, 2);
    assert.ok(lock.ok, lock.ok ? '' : lock.detail);
    await lock.lock.release();
  } finally {
    c.close();
  }
});

test('a wrong password, a missing password or a foreign CA is refused (and a lock attempt says so)', async () => {
  const wrong = client({ tls: { ca_file: f('ca.pem') }, username: 'root', password: 'nope' });
  const anonymous = client({ tls: { ca_file: f('ca.pem') } });
  const foreign = client({ tls: { ca_file: f('other-ca.pem') }, username: 'root', password_file: f('etcd.pw') });
  try {
    await assert.rejects(wrong.get('/vigil/tls-check').string(), /authentication failed|invalid/i);
    await assert.rejects(anonymous.put('/vigil/x').value('1').exec(), /user name is empty|permission denied|not capable/i);
    await assert.rejects(foreign.get('/vigil/tls-check').string());
    const r = await tryLock(wrong, '/vigil/clusters/orders/lock', { member: 'db3', purpose: 'test', since: '' }, 2);
    assert.equal(r.ok, false);
  } finally {
    for (const c of [wrong, anonymous, foreign]) c.close();
  }
});
