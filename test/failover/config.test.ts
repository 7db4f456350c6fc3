// The failover part of vigil.yaml: a mysql_promote rule needs coordination,
// one host is one member of a cluster, and every problem names its path.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { Agent } from '../../src/agent.js';
import { clusterSettings } from '../../src/failover/config.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-failover-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const pw = join(dir, 'db.pw');
writeFileSync(pw, 's3cret\n');

const base = (action: string, coordination = true) => `
${coordination ? `coordination:
  etcd: { endpoints: [127.0.0.1:2379, 127.0.0.1:2380], prefix: /vigil }
  member_name: db2
` : ''}probes:
  - { name: primary, type: mysql, address: 127.0.0.1:3306, user: vigil, password_file: ${pw} }
remediations:
  - name: failover
    when: { probe: primary, state: critical }
    action:
${action}`;

const promote = (extra = '') => `      type: mysql_promote
      cluster: orders
      local: { address: 127.0.0.1:3307, user: vigil, password_file: ${pw} }
${extra}`;

function problems(text: string): string[] {
  const r = parseConfigText(text, Agent.loadOptions({}));
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

test('a complete mysql_promote config parses with the documented defaults', () => {
  const r = parseConfigText(base(promote('      replication: { user: repl, password_file: ' + pw + ' }\n      post_promote: { command: [/usr/local/bin/move-writer] }\n')), Agent.loadOptions({}));
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  const [s] = clusterSettings(r.config);
  assert.equal(s.cluster, 'orders');
  assert.deepEqual(s.advertise, { host: '127.0.0.1', port: 3307 });
  assert.equal(s.local.password, 's3cret');
  assert.deepEqual(s.replication, { user: 'repl', password: 's3cret' });
  assert.equal(s.priority, 100);
  assert.equal(s.maxLagMs, 10_000);
  assert.equal(s.catchupTimeoutMs, 30_000);
  assert.equal(s.recoveryBlockMs, 3_600_000);
  assert.equal(s.memberIntervalMs, 500);
  assert.deepEqual(s.postPromote, { command: ['/usr/local/bin/move-writer'], timeoutMs: 30_000 });
  assert.equal(r.config.coordination?.lease_ttl, 5000);
  assert.deepEqual(s.primaryLease, { ttlMs: 6000, renewIntervalMs: 1000, renewDeadlineMs: 3000, fenceWithinMs: 1500 });
  assert.equal(s.replicaNetTimeoutMs, 4000);
  assert.equal(s.onFence, undefined);
});

test('the primary lease timing rule is enforced at load, each problem at its key', () => {
  const bad = problems(base(promote('      primary_lease: { ttl: 4s, renew_interval: 1s, renew_deadline: 3s }\n')));
  assert.equal(bad.length, 1, bad.join('\n'));
  assert.match(bad[0], /^remediations\[0\]\.action\.primary_lease\.renew_deadline: renew_deadline 3s \+ fence_within 1\.5s \+ clock margin 0\.5s = 5s exceeds ttl 4s/);
  const twice = problems(base(promote('      primary_lease: { ttl: 10s, renew_interval: 2s, renew_deadline: 3s }\n')));
  assert.match(twice.join('\n'), /primary_lease\.renew_deadline: must be at least twice renew_interval \(2s\)/);
  const frac = problems(base(promote('      primary_lease: { ttl: 2500ms }\n      replica_net_timeout: 1500ms\n')));
  assert.match(frac.join('\n'), /primary_lease\.ttl: must be whole seconds/);
  assert.match(frac.join('\n'), /replica_net_timeout: must be whole seconds, at least 2s/);
  assert.deepEqual(problems(base(promote('      primary_lease: { ttl: 30s, renew_interval: 5s, renew_deadline: 20s, fence_within: 5s }\n      replica_net_timeout: 0s\n      on_fence: { command: [/usr/local/bin/drop-vip] }\n'))), []);
});

test('local: host and port (as the issue writes them) are the same as address', () => {
  const text = base(promote().replace('local: { address: 127.0.0.1:3307,', 'local: { host: 127.0.0.1, port: 3307,'));
  const r = parseConfigText(text, Agent.loadOptions({}));
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  const [s] = clusterSettings(r.config);
  assert.deepEqual([s.local.host, s.local.port, s.advertise], ['127.0.0.1', 3307, { host: '127.0.0.1', port: 3307 }]);
  assert.deepEqual(problems(base(promote().replace('local: { address: 127.0.0.1:3307,', 'local: { address: 127.0.0.1:3307, host: db2,'))), [
    'remediations[0].action.local.port: host and port go together, instead of address or socket',
  ]);
});

test('mysql_promote without coordination is refused with its path', () => {
  assert.deepEqual(problems(base(promote(), false)), [
    'remediations[0].action.type: mysql_promote needs a top-level `coordination:` section (etcd endpoints): agents cannot agree on a promotion alone',
  ]);
});

test('two rules describing the same cluster differently are refused', () => {
  const text = `${base(promote())}  - name: failover-too
    when: { probe: primary, failures: 5 }
    action:
${promote('      priority: 0\n')}`;
  assert.deepEqual(problems(text), [
    'remediations[1].action.cluster: cluster "orders" is also configured by remediations[0] with different settings; a host is one member of a cluster',
  ]);
});

test('field checks first, then the cross-field ones (zod runs a transform only on valid fields)', () => {
  assert.deepEqual(problems(base(promote('      priority: -1\n').replace('cluster: orders', 'cluster: Orders'))
    .replace('member_name: db2', 'member_name: db2\n  lease_ttl: 1500ms')).sort(), [
    'coordination.lease_ttl: must be whole seconds, at least 2s',
    'remediations[0].action.cluster: must match [a-z0-9_-]+',
    'remediations[0].action.priority: Number must be greater than or equal to 0',
  ]);
  assert.deepEqual(problems(base(`      type: mysql_promote
      cluster: orders
      local: { socket: /run/mysqld/mysqld.sock, user: vigil }
      replication: { user: repl }
      member_interval: 5s
      view_stale_after: 2s
`)).sort(), [
    'remediations[0].action.advertise: local uses a socket: set advertise to the host:port other servers replicate from',
    'remediations[0].action.replication.password: needs password or password_file',
    'remediations[0].action.view_stale_after: must be longer than member_interval',
  ]);
});

test('examples/vigil-failover-db.yaml is a valid config (secret and PEM paths pointed at test files)', async () => {
  const { readFileSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  const pem = join(dir, 'tls.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', pem, '-out', `${pem}.crt`, '-days', '1', '-subj', '/CN=vigil-test'], { stdio: 'ignore' });
  writeFileSync(pem, readFileSync(`${pem}.crt`, 'utf8') + readFileSync(pem, 'utf8'));
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, '0123456789abcdef0123456789abcdef\n');
  const text = readFileSync('examples/vigil-failover-db.yaml', 'utf8')
    .replace(/\/etc\/vigil\/[a-z.-]*(password|token)/g, secretFile)
    .replace(/\/etc\/vigil\/etcd-[a-z-]*\.pem/g, pem);
  const r = parseConfigText(text, Agent.loadOptions({}));
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  const [s] = clusterSettings(r.config);
  assert.deepEqual(s.advertise, { host: '10.0.0.22', port: 3306 });
  assert.equal(r.config.coordination?.member_name, 'db2');
});
