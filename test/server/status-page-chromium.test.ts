// The status page in a real browser: a real agent with a passing probe, a
// critical one whose remediation ran, failed and opened its breaker, one
// whose rule is blocked (not corroborated), a warning one, a hostile peer
// whose message carries a <script>, and an active/standby group on a real
// etcd. Headless Chromium loads GET /; the test reads the DOM it built and
// saves a screenshot under test-artifacts/ (gitignored).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { REPO, startAgent, tempDir, type RunningAgent } from '../helpers/agent.js';
import { closedPort, startHttpServer, type TestServer } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { CHROMIUM_HINT, dumpDom, requireChromium, screenshot } from '../harness/chromium.js';

const ARTIFACTS = join(REPO, 'test-artifacts');
const SCRIPT = '<script>document.title="pwned";document.body.innerHTML="pwned"</script>';

let web: TestServer;
let hostile: net.Server;
let etcd: EtcdCluster;
let agent: RunningAgent;
const work = tempDir('vigil-page-');

before(async () => {
  requireChromium(); // fail at once, before starting anything, when the browser is missing
  web = await startHttpServer((_q, res) => res.end('ok'));
  // Not HTTP: its first line comes back in the probe's message, which the page must show as text.
  hostile = net.createServer((s) => s.end(`${SCRIPT}\r\n\r\n`));
  await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
  const hostilePort = (hostile.address() as net.AddressInfo).port;
  const refused = await closedPort();
  etcd = await startEtcd({ nodes: 1 });
  agent = await startAgent(`agent:
  state_dir: ${work.dir}/state
  startup_grace: 0s
probes:
  - { name: web, type: http, url: "${web.origin}/health", interval: 1s, timeout: 900ms }
  - { name: db-port, type: tcp, address: "127.0.0.1:${refused}", interval: 200ms, failures_before_critical: 2 }
  - { name: upstream, type: http, url: "http://127.0.0.1:${hostilePort}/", interval: 200ms, failures_before_critical: 1 }
  - { name: cache, type: tcp, address: "127.0.0.1:${refused}", interval: 200ms, failures_before_warning: 1, failures_before_critical: 100000 }
  - { name: root, type: disk, path: /, interval: 1s }
  - { name: web-port, type: tcp, address: "127.0.0.1:${web.port}", interval: 1s, timeout: 900ms }
remediations:
  - name: restart-db
    when: { probe: db-port, state: critical }
    action: { type: exec, command: [/bin/sh, -c, 'echo "Job for mariadb.service failed because the control process exited with error code." >&2; exit 1'] }
    cooldown: 0s
    grace: 0s
    max_actions: 1
    window: 1h
  - name: page-upstream
    when: { probe: upstream, all_of: [web] }
    action: { type: exec, command: [/bin/true] }
coordination:
  etcd: { endpoints: ${JSON.stringify(etcd.endpoints)}, prefix: /vigil-page-test }
  member_name: app1
groups:
  - name: web-vip
    healthy_when: [web]
    check_interval: 200ms
    advertise: 127.0.0.1:8080
`);
  await waitUntil('the breaker open, the blocked rule decided and the group active', async () => {
    const s = (await agent.get('/status')).json();
    const r = s.remediation.rules;
    return r['restart-db'].breaker.open && r['page-upstream'].last_decision?.reason === 'not_corroborated'
      && s.probes.cache.state === 'warning' && ['web', 'root', 'web-port'].every((p) => s.probes[p].state === 'passing')
      && s.groups?.groups['web-vip'].role === 'active';
  }, { timeoutMs: 20_000, intervalMs: 100 });
});

after(async () => {
  await agent?.stop();
  await etcd?.stop();
  await web?.close();
  await new Promise<void>((r) => (hostile ? hostile.close(() => r()) : r()));
  work.cleanup();
});

/** Text content of the DOM (tags removed, entities decoded), one space between words. */
function text(dom: string): string {
  return dom.replace(/<[^>]*>/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&').replace(/\s+/g, ' ');
}

/** The part of the DOM inside the element with this id (up to the next section). */
function section(dom: string, id: string): string {
  const start = dom.indexOf(`id="${id}"`);
  assert.ok(start >= 0, `no element with id ${id}`);
  const end = dom.indexOf('<section', start + 1);
  return dom.slice(start, end < 0 ? undefined : end);
}

test('a missing chromium fails the test with the install line, never skips it', () => {
  assert.throws(() => requireChromium('vigil-no-such-chromium'), (e: Error) => e.message === CHROMIUM_HINT);
  assert.match(CHROMIUM_HINT, /install chromium with `apt-get install -y --no-install-recommends chromium`/);
});

test('Chromium renders the page: verdict first, failing probes first, a blocked rule\'s reason, the open breaker, the group, the journal', async () => {
  const dom = await dumpDom(`${agent.url}/`);
  const all = text(dom);
  // Nothing ran: the title is the page's, the hostile text is text.
  assert.match(dom, /<title>NOT READY · vigil on [^<]+<\/title>/);
  assert.doesNotMatch(all, /pwned<\/|^pwned$/);
  assert.equal((dom.match(/<script/gi) ?? []).length, 0, 'no script element in the DOM');
  // The probe quotes the peer's first line as JSON (so its quotes come back as \").
  assert.ok(dom.includes('&lt;script&gt;document.title=\\"pwned\\"'), 'the <script> of the message is escaped text');
  assert.match(text(section(dom, 'probe-upstream')), /protocol: .*status line "<script>document\.title=\\"pwned\\";/, 'and reads as the peer sent it');

  // The verdict leads, with every problem.
  assert.ok(dom.indexOf('id="verdict-critical"') < dom.indexOf('id="probes"'));
  const verdict = text(section(dom, 'verdict'));
  assert.match(verdict, /NOT READY/);
  assert.match(verdict, /2 probes critical: db-port, upstream/);
  assert.match(verdict, /breaker open \(remediation stopped acting\): restart-db/);
  assert.match(verdict, /1 probe failing, not yet critical: cache/);

  // Problems first: critical (most failures first), then warning, then passing.
  const order = [...dom.matchAll(/<tr class="(\w+)" id="probe-([\w-]+)"/g)].map((m) => `${m[2]}:${m[1]}`);
  assert.equal(order.length, 6, order.join(' '));
  assert.deepEqual(order.slice(2), ['cache:warning', 'root:passing', 'web:passing', 'web-port:passing']);
  assert.match(text(section(dom, 'probe-root')), /\/: \d+ bytes \([\d.]+ [KMGT]iB\) of \d+ bytes \([\d.]+ [KMGT]iB\) available/, 'disk sizes for people too');
  assert.deepEqual(order.slice(0, 2).map((o) => o.split(':')[1]), ['critical', 'critical']);
  assert.match(text(section(dom, 'probe-db-port')), /connect_refused: connect to 127\.0\.0\.1:\d+/);
  assert.match(section(dom, 'probe-db-port'), /class="strip"[^>]*><span class="s-fail">✕+<\/span>/);

  // Rules: the open breaker first, with its closing time and the failed action's reason; the blocked rule's gate in a sentence.
  const rules = section(dom, 'rules');
  assert.ok(rules.indexOf('id="rule-restart-db"') < rules.indexOf('id="rule-page-upstream"'));
  const restart = text(section(dom, 'rule-restart-db'));
  assert.match(restart, /OPEN \(1\/1 in 1h\)/);
  assert.match(restart, /blocked by breaker_open/);
  assert.match(restart, /vigil rule reset restart-db/);
  assert.match(restart, /failed .*sh exited with code 1 after \S+: Job for mariadb\.service failed because the control process exited with error code\./);
  assert.match(text(section(dom, 'rule-page-upstream')), /blocked by not_corroborated: .*web/);

  // The group this host is active in, with its fencing token and members.
  const group = text(section(dom, 'group-web-vip'));
  assert.match(group, /active: app1 \(127\.0\.0\.1:8080\), fencing token \d+/);
  assert.match(group, /this host \(app1\): active/);

  // The journal: the failed outcome with its detail, newest first.
  const journal = text(section(dom, 'journal'));
  assert.match(journal, /outcome restart-db failed sh exited with code 1 .*Job for mariadb\.service failed/);
  assert.ok(journal.indexOf('outcome restart-db') < journal.indexOf('intent restart-db'));
});

test('the page is served with a policy that forbids scripts and outside resources; ?refresh=N adds a meta refresh, bad values none', async () => {
  const r = await agent.get('/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
  assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.doesNotMatch(r.body, /http-equiv="refresh"/);
  assert.doesNotMatch(r.body, /(?:src|href)="(?:https?:)?\/\//, 'no external asset or link');
  assert.match((await agent.get('/?refresh=5')).body, /<meta http-equiv="refresh" content="5">/);
  for (const bad of ['0', '1', '99999', '5;url=http://evil', '%3Cscript%3E']) {
    assert.doesNotMatch((await agent.get(`/?refresh=${bad}`)).body, /http-equiv="refresh"/, bad);
  }
});

test('a screenshot of the page is saved as a test artifact', async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, 'status-page.png');
  writeFileSync(file, '');
  await screenshot(`${agent.url}/`, file, '1280,2000');
  const size = statSync(file).size;
  assert.ok(size > 20_000, `screenshot of ${size} bytes`);
  process.stdout.write(`# screenshot: ${file} (${size} bytes)\n`);
});
