// `vigil status` against a real agent (its own process, found through its
// config): the screen (verdict and problems first, ≤ 100 columns, colour
// only on a terminal), --json, --watch, and the exit codes: 0 ready, 1
// warning or critical, 2 unreachable.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { REPO, runVigil, spawnVigil, startAgent } from '../helpers/agent.js';
import { closedPort, startHttpServer, type TestServer } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';
import { requireTool } from '../helpers/tools.js';
import { startCliAgent, type CliAgent } from './cli-agent.js';

let web: TestServer;
let agent: CliAgent;

before(async () => {
  web = await startHttpServer((_q, res) => res.end('ok'));
  const refused = await closedPort();
  agent = await startCliAgent(`probes:
  - { name: web, type: http, url: "${web.origin}/", interval: 1s, timeout: 900ms }
  - { name: db-port, type: tcp, address: "127.0.0.1:${refused}", interval: 200ms, failures_before_critical: 2 }
remediations:
  - name: restart-db
    when: { probe: db-port, state: critical }
    action: { type: exec, command: [/bin/sh, -c, 'echo "mariadb.service: start-limit-hit" >&2; exit 1'] }
    cooldown: 0s
    grace: 0s
    max_actions: 1
`);
  await waitUntil('the breaker to open', async () => (await agent.status()).remediation.rules['restart-db'].breaker.open, { timeoutMs: 20_000 });
  // web's first run is staggered within its interval: the breaker can open before it ran.
  await waitUntil('web passing', async () => (await agent.status()).probes.web.state === 'passing', { timeoutMs: 20_000 });
});

after(async () => {
  await agent?.stop();
  await web?.close();
});

const ESC = '\x1b[';
const long = (out: string) => out.split('\n').filter((l) => [...l].length > 100);

test('vigil status --config FILE: the verdict and every problem first, the failing probe, the open breaker and why the action failed; exit 1', async () => {
  const r = await agent.vigil(['status']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, '');
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /^vigil on \S+ — NOT READY$/);
  assert.match(lines[1], /^ {2}✕ 1 probe critical: db-port$/);
  assert.match(lines[2], /^ {2}✕ breaker open \(remediation stopped acting\): restart-db$/);
  assert.match(r.stdout, /^remediation: not paused · dry_run off · no maintenance · budget 9\/10 left per 1h$/m);
  assert.match(r.stdout, /^probes: 1 not passing, 1 passing \(--all lists them\)$/m);
  assert.match(r.stdout, /^PROBE +STATE +SINCE +FAILS +TOOK +LAST RESULT$/m);
  assert.match(r.stdout, /^db-port +critical +(\S+|just now) +\d+ +\S+ +connect_refused: connect to 127\.0\.0\.1:\d+/m);
  assert.doesNotMatch(r.stdout, /^web /m, 'passing probes only with --all');
  assert.match(r.stdout, /^restart-db \(exec \/bin\/sh -c/m);
  assert.match(r.stdout, /^ {2}blocked by breaker_open: /m);
  assert.match(r.stdout, /^ {2}breaker OPEN \(1\/1 in 1h\) · cooldown none$/m);
  // The failed action's reason in full, folded over lines rather than cut.
  const last = r.stdout.slice(r.stdout.indexOf('  last action: ')).split('\n').map((l) => l.trim()).join(' ');
  assert.match(last, /^last action: failed (?:\S+ ago|just now): sh exited with code 1 after \S+: mariadb\.service: start-limit-hit/);
  assert.deepEqual(long(r.stdout), [], 'every line fits 100 columns');
  assert.ok(!r.stdout.includes(ESC), 'no colour into a pipe');
});

test('--all lists the passing probes too; --agent URL needs no config; --json is the /status document', async () => {
  const all = await runVigil(['status', '--all', '--agent', agent.url]);
  assert.equal(all.code, 1, all.stderr);
  assert.match(all.stdout, /^web +passing +(?:just now|\S+) +\S+ +GET http:\/\/127\.0\.0\.1:\d+\/ returned 200$/m);
  const j = await agent.vigil(['status', '--json']);
  assert.equal(j.code, 1);
  const doc = JSON.parse(j.stdout);
  assert.equal(doc.verdict.level, 'critical');
  assert.deepEqual(doc.verdict.critical, ['db-port']);
  assert.equal(doc.probes.web.state, 'passing');
});

test('on a terminal the screen is in colour and still fits its width', async () => {
  const script = requireTool('script', 'bsdutils');
  const cmd = `stty cols 100; ${process.execPath} --import tsx src/bin.ts status --agent ${agent.url}`;
  const r = spawnSync(script, ['-qec', cmd, '/dev/null'], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: undefined } as NodeJS.ProcessEnv });
  assert.equal(r.status, 1, r.stderr);
  assert.ok(r.stdout.includes(`${ESC}31m`), 'red for the critical parts');
  // eslint-disable-next-line no-control-regex
  const plain = r.stdout.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
  assert.match(plain, /NOT READY/);
  assert.deepEqual(long(plain), []);
});

test('ready with nothing to look at: exit 0', async () => {
  const a = await startAgent(`probes:\n  - { name: web, type: http, url: "${web.origin}/", interval: 500ms, timeout: 400ms }\n`);
  try {
    await waitUntil('web passing', async () => (await a.get('/status')).json().probes.web.state === 'passing');
    const r = await runVigil(['status', '--agent', a.url]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^vigil on \S+ — READY: all 1 probe passing$/m);
  } finally {
    await a.stop();
  }
});

test('an agent that cannot be reached: exit 2 and what to check', async () => {
  const port = await closedPort();
  const r = await runVigil(['status', '--agent', `127.0.0.1:${port}`]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `vigil status: VIGIL_E_AGENT_UNREACHABLE: cannot reach http://127.0.0.1:${port} (ECONNREFUSED); is the agent running (systemctl status vigil)? `
    + 'Name its address with --agent http://HOST:PORT or its config with --config FILE\n');
  const missing = await runVigil(['status', '--config', '/nonexistent/vigil.yaml']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^vigil status: VIGIL_E_CLI_CONFIG: config file \/nonexistent\/vigil\.yaml does not exist; name the agent's with --config FILE\n$/);
});

test('--watch redraws until interrupted and exits with the last verdict', async () => {
  const w = spawnVigil(['status', '--watch', '--interval', '500ms', '--config', agent.file]);
  try {
    await waitUntil('three frames', () => (w.stdout().match(/^--- \d{4}-/gm) ?? []).length >= 3, { timeoutMs: 20_000 });
    w.kill('SIGINT');
    assert.equal(await w.exited, 1);
    const frames = w.stdout().split(/^--- .*$/m).filter((f) => f.trim());
    assert.ok(frames.length >= 3);
    for (const f of frames) assert.match(f, /NOT READY/);
  } finally {
    w.kill('SIGKILL');
  }
});
