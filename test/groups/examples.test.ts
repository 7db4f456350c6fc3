// The worked examples of examples/groups/ against real components: every
// agent's config is the example file itself, parsed, with only addresses,
// paths, member names and timings replaced (so the examples cannot rot), and
// the hooks are the example scripts.
//  - systemd: two in-process agents on a real etcd whose hooks start and stop
//    units of a real systemd user manager (SYSTEMCTL="systemctl --user"). Both
//    members share that manager, so each has its own unit (myapp-m1.service,
//    myapp-m2.service, made from examples/groups/myapp.service); a sampler
//    checks that never both run.
//  - DR symlink (EDINA): the swap is atomic under a concurrent reader (200
//    runs of the script), then two agents, one per "site", share one link:
//    the planned switch-over to DR, and a site whose target is missing
//    failing on_active, stepping down and backing off.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { freePort } from '../harness/ports.js';
import { startUserManager, type UserManager } from '../harness/systemd.js';
import { REPO, fetchText, runVigil, startAgent, tempDir, type RunningAgent } from '../helpers/agent.js';
import { exampleConfigNames } from '../helpers/config-mutations.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const EXAMPLES = join(REPO, 'examples/groups');
const HOOKS = join(EXAMPLES, 'hooks');
const INSTALLED = '/usr/local/libexec/vigil/'; // where the examples install the hook scripts
const TOKEN = 'examples-test-admin-token-0123456789abcdef';

let etcd: EtcdCluster;
let tmp: { dir: string; cleanup: () => void };

before(async () => {
  tmp = tempDir('vigil-group-examples-');
  writeFileSync(join(tmp.dir, 'admin-token'), TOKEN, { mode: 0o600 });
  etcd = await startEtcd({ nodes: 1 });
});

after(async () => {
  await etcd?.stop();
  tmp?.cleanup();
});

/* eslint-disable @typescript-eslint/no-explicit-any */
type Doc = Record<string, any>;

function example(name: string): Doc {
  return parse(readFileSync(join(EXAMPLES, name), 'utf8')) as Doc;
}

/** The hook command of the example with the installed script path pointed at examples/groups/hooks/. */
function localCommand(cmd: string[], replace: Record<string, string> = {}): string[] {
  return cmd.map((a, i) => (i === 0 ? a.replace(INSTALLED, `${HOOKS}/`) : (replace[a] ?? a)));
}

/** What every test agent changes in an example: its etcd, admin API, state dir and member name. */
function common(doc: Doc, member: string, prefix: string): void {
  doc.agent = { ...doc.agent, state_dir: join(tmp.dir, `state-${member}`), startup_grace: '0s' };
  doc.admin = { listen: '127.0.0.1:0', token_file: join(tmp.dir, 'admin-token') };
  doc.coordination = { ...doc.coordination, member_name: member, lease_ttl: '2s', etcd: { endpoints: etcd.endpoints, prefix, request_timeout: '1s' } };
}

/**
 * Test timings for a group (the examples' are for production): the timing
 * rule holds (2s + 2s + 0.5s + 0.6s <= 6s) with no takeover_delay, so a
 * first election does not wait. Every hand-over here is clean (the key is
 * released), so the lease's length costs no time.
 */
function fastGroup(g: Doc): void {
  Object.assign(g, { lease_ttl: '6s', renew_interval: '500ms', renew_deadline: '2s', check_interval: '200ms', takeover_delay: '0s' });
  g.on_standby.timeout = '2s';
}

interface HookLine { at: number; group: string; member: string; prog: string; what: string; token: string; cause: string; line: string }

function hookLines(file: string): HookLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
    const m = /^(\d+) ([^/ ]+)\/(\S+) ([a-z-]+): (.*) token=(\S*) cause=(\S*)$/.exec(line);
    assert.ok(m, `hook log line: ${line}`);
    return { at: Number(m[1]), group: m[2], member: m[3], prog: m[4], what: m[5], token: m[6], cause: m[7], line };
  });
}

async function admin(a: RunningAgent, path: string, body: unknown) {
  return fetchText(`${a.agent.adminAddress}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
}

function journal(member: string): Array<Record<string, string>> {
  const file = join(tmp.dir, `state-${member}`, 'remediation-journal.jsonl');
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.event === 'group_hook');
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => execFile(cmd, args, { env }, (err, _out, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr: String(stderr) })));
}

test('both group examples pass `vigil check-config` and are among the examples the config tests check', async () => {
  const names = ['groups/vigil-group-systemd.yaml', 'groups/vigil-group-dr-symlink.yaml'];
  assert.deepEqual(names.filter((n) => !exampleConfigNames().includes(n)), []);
  const results = await Promise.all(names.map(async (n) => {
    const file = join(tmp.dir, n.replace('/', '-'));
    writeFileSync(file, readFileSync(join(REPO, 'examples', n), 'utf8').replaceAll('/etc/vigil/admin-token', join(tmp.dir, 'admin-token')));
    return { n, ...(await runVigil(['check-config', file])) };
  }));
  for (const r of results) assert.equal(r.code, 0, `${r.n}: ${r.stdout}${r.stderr}`);
});

describe('examples/groups/vigil-group-systemd.yaml on a real systemd user manager', () => {
  const MEMBERS = ['m1', 'm2'] as const;
  type M = (typeof MEMBERS)[number];
  const PRIORITY: Record<M, number> = { m1: 100, m2: 90 };
  const unit = (m: M) => `myapp-${m}.service`;
  let um: UserManager;
  const hookLog = () => join(tmp.dir, 'systemd-hooks.log');
  const db = new Map<M, { server: Server | undefined; port: number }>();
  const appPort = new Map<M, number>();
  const agents = new Map<M, RunningAgent>();
  let sampler: { stop: () => Promise<{ samples: number; both: string[] }> } | undefined;

  async function openDb(m: M): Promise<void> {
    const entry = db.get(m) ?? { server: undefined, port: 0 };
    const server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(entry.port, '127.0.0.1', r));
    db.set(m, { server, port: (server.address() as { port: number }).port });
  }
  async function closeDb(m: M): Promise<void> {
    const s = db.get(m)!.server!;
    db.get(m)!.server = undefined;
    await new Promise((r) => s.close(r));
  }

  function config(m: M): string {
    const doc = example('vigil-group-systemd.yaml');
    common(doc, m, '/vigil-examples-systemd');
    const probes = doc.probes as Doc[];
    const probe = (name: string) => probes.find((p) => p.name === name)!;
    Object.assign(probe('database'), { address: `127.0.0.1:${db.get(m)!.port}`, interval: '500ms', timeout: '400ms', failures_before_critical: 2 });
    Object.assign(probe('data-disk'), { path: tmp.dir, interval: '1s' });
    Object.assign(probe('myapp'), { url: `http://127.0.0.1:${appPort.get(m)}/health`, interval: '500ms', timeout: '400ms' });
    const g = doc.groups[0] as Doc;
    fastGroup(g);
    g.priority = PRIORITY[m];
    g.on_active.command = localCommand(g.on_active.command, { 'myapp.service': unit(m) });
    g.on_standby.command = localCommand(g.on_standby.command, { 'myapp.service': unit(m) });
    return stringify(doc);
  }

  async function start(m: M): Promise<RunningAgent> {
    const env = { ...process.env, ...um.env, SYSTEMCTL: 'systemctl --user', HOOK_LOG: hookLog() };
    const a = await startAgent(config(m), env);
    agents.set(m, a);
    return a;
  }

  async function stopAgent(m: M): Promise<void> {
    await agents.get(m)!.stop();
    agents.delete(m);
  }

  const state = async (m: M) => (await um.show(unit(m), ['ActiveState'])).ActiveState;
  const appMarks = () => join(tmp.dir, 'myapp-marks');
  /** Run intervals of each member's app process from its own marks (an open one ends now). */
  function appRuns(): Array<{ m: string; from: number; to: number }> {
    const runs: Array<{ m: string; from: number; to: number }> = [];
    const open = new Map<string, number>();
    const text = existsSync(appMarks()) ? readFileSync(appMarks(), 'utf8') : '';
    for (const line of text.split('\n').filter(Boolean)) {
      const [at, m, what] = line.split(' ');
      if (what === 'start') open.set(m, Number(at));
      else if (open.has(m)) { runs.push({ m, from: open.get(m)!, to: Number(at) }); open.delete(m); }
    }
    for (const [m, from] of open) runs.push({ m, from, to: Date.now() });
    return runs.sort((a, b) => a.from - b.from);
  }
  /** Pairs of runs of different members that overlap in time. */
  function overlaps(): string[] {
    const r = appRuns();
    const out: string[] = [];
    for (let i = 0; i < r.length; i++) {
      for (let j = i + 1; j < r.length; j++) if (r[i].m !== r[j].m && r[j].from < r[i].to) out.push(JSON.stringify([r[i], r[j]]));
    }
    return out;
  }
  const isActive = async (m: M) => agents.has(m) && (await agents.get(m)!.get('/role/app')).status === 200;

  /** Samples both units' states until stopped; any sample where both run is a failure. */
  function startSampler(): { stop: () => Promise<{ samples: number; both: string[] }> } {
    let stopped = false;
    let samples = 0;
    const both: string[] = [];
    const running = new Set(['active', 'activating', 'deactivating', 'reloading']);
    const loop = (async () => {
      while (!stopped) {
        const r = await um.systemctl('show', '-p', 'Id,ActiveState', unit('m1'), unit('m2'));
        const states = [...r.stdout.matchAll(/ActiveState=(\S+)/g)].map((x) => x[1]);
        if (states.length === 2) {
          samples++;
          if (states.every((s) => running.has(s))) both.push(`${new Date().toISOString()} ${r.stdout.replace(/\s+/g, ' ')}`);
        }
        await sleep(20);
      }
    })();
    return { stop: async () => { stopped = true; await loop; return { samples, both }; } };
  }

  before(async () => {
    um = await startUserManager();
    const appFile = join(tmp.dir, 'myapp.mjs');
    // The app marks when its process began and when it ended, on this machine's clock.
    writeFileSync(appFile, [
      "import { appendFileSync } from 'node:fs';",
      "import { createServer } from 'node:http';",
      'const [port, name, marks] = process.argv.slice(2);',
      "const mark = (what) => appendFileSync(marks, `${Date.now()} ${name} ${what}\\n`);",
      "mark('start');",
      "createServer((req, res) => res.end('ok')).listen(Number(port), '127.0.0.1');",
      "process.on('SIGTERM', () => { mark('exit'); process.exit(0); });",
    ].join('\n'));
    const template = readFileSync(join(EXAMPLES, 'myapp.service'), 'utf8');
    for (const m of MEMBERS) {
      appPort.set(m, await freePort());
      await openDb(m);
      // The example unit with only ExecStart replaced (and TimeoutStopSec kept below the test's on_standby.timeout of 2s).
      const text = template.replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${appFile} ${appPort.get(m)} ${m} ${appMarks()}`)
        .replace(/^TimeoutStopSec=.*$/m, 'TimeoutStopSec=1500ms');
      await um.writeUnit(unit(m), text);
    }
    sampler = startSampler();
  });

  after(async () => {
    for (const m of [...agents.keys()]) await stopAgent(m).catch(() => undefined);
    await sampler?.stop();
    await um?.stop(); // stops every unit of the manager, then the manager
    for (const { server } of db.values()) server?.close();
  });

  test('the example: healthy_when is host health only, the app probe does not count for /ready, the hooks start/stop the unit', () => {
    const doc = example('vigil-group-systemd.yaml');
    const g = doc.groups[0];
    assert.deepEqual(g.healthy_when, ['database', 'data-disk']);
    assert.equal((doc.probes as Doc[]).find((p) => p.name === 'myapp')?.affects_ready, false);
    assert.deepEqual([g.on_active.command.slice(1), g.on_standby.command.slice(1)], [['start', 'myapp.service'], ['stop', 'myapp.service']]);
    const unitText = readFileSync(join(EXAMPLES, 'myapp.service'), 'utf8');
    assert.doesNotMatch(unitText, /^\[Install\]/m, 'the unit cannot be enabled');
  });

  test('the script alone: start is judged by the unit being active, stop by nothing of it running; usage errors exit 2', async () => {
    const script = join(HOOKS, 'systemd-unit.sh');
    const env = { ...process.env, ...um.env, SYSTEMCTL: 'systemctl --user', VIGIL_GROUP: 'app', VIGIL_MEMBER: 'direct', VIGIL_FENCING_TOKEN: '7', VIGIL_CAUSE: 'test' };
    const gone = await run('sh', [script, 'stop', 'nosuch.service'], env);
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(gone.stderr, /stop nosuch\.service: done \(inactive; systemctl stop said: .*not loaded.*\) token=7 cause=test/);
    const bad = await run('sh', [script, 'start', 'nosuch.service'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /start nosuch\.service: FAILED: inactive after systemctl start \(exit \d+\): .*not found/);
    assert.equal((await run('sh', [script, 'restart', unit('m1')], env)).code, 2);
    assert.equal((await run('sh', [script, 'stop'], env)).code, 2);
  });

  test('m1 stands and starts its unit; m2 stops its (already stopped) unit at startup and is a ready standby with its app probe critical', async () => {
    await start('m1');
    await waitUntil('m1 active', () => isActive('m1'), { timeoutMs: 15_000 });
    assert.equal(await state('m1'), 'active');
    await start('m2');
    const lines = () => hookLines(hookLog());
    await waitUntil('m2 startup on_standby done', () => lines().some((l) => l.member === 'm2' && l.cause === 'startup' && /: done/.test(l.what)));
    assert.equal(await state('m2'), 'inactive');

    const m1 = lines().filter((l) => l.member === 'm1');
    assert.deepEqual(m1.map((l) => `${l.what.split(':')[0]} ${l.cause}`), [
      `stop ${unit('m1')} startup`, `stop ${unit('m1')} startup`, `start ${unit('m1')} elected`, `start ${unit('m1')} elected`,
    ], 'on_standby at startup (begin, done) before on_active (begin, done)');
    assert.match(m1[1].what, /done \(inactive\)/, 'stopping a unit that never ran succeeds');
    const status = (await agents.get('m1')!.get('/status')).json().groups.groups.app;
    assert.equal(m1[3].token, status.fencing_token, 'the hook logs the fencing token of its term');
    assert.ok(Number(status.fencing_token) > 0);

    // The app probe is critical where the app does not run, and does not matter there.
    await waitUntil('m2 sees its app probe critical', async () => (await agents.get('m2')!.get('/status')).json().probes.myapp.state === 'critical',
      { timeoutMs: 10_000 });
    await waitUntil('the app answers on the active member', async () => (await agents.get('m1')!.get('/status')).json().probes.myapp.state === 'passing');
    assert.equal((await agents.get('m2')!.get('/ready')).status, 200, 'affects_ready: false keeps the standby ready');
    // Eligible once its own healthy_when probes (database, data-disk) have run: their first runs are staggered.
    await waitUntil('m2 an eligible standby (healthy_when does not name the app)', async () => (await agents.get('m2')!.get('/role/app/standby')).status === 200,
      { timeoutMs: 15_000 });
    assert.equal((await agents.get('m2')!.get('/role/app')).status, 503);
  });

  test('the active member loses its database: its unit is stopped before the other member\'s is started', async () => {
    const t0 = Date.now();
    await closeDb('m1');
    await waitUntil('m2 active', () => isActive('m2'), { timeoutMs: 15_000 });
    console.log(`# role moved m1 -> m2 in ${Date.now() - t0} ms`);
    // on_active returns once systemd has started the process; its first mark follows when Node has loaded it.
    await waitUntil('m2\'s app running', () => appRuns().some((r) => r.m === 'm2'));
    assert.equal(await state('m1'), 'inactive');
    assert.equal(await state('m2'), 'active');
    // The apps' own marks: m1's process had ended before m2's began. (systemd's
    // Inactive*TimestampMonotonic cannot tell: an inactive unit nothing refers
    // to is unloaded at once, and its timestamps read 0.)
    const runs = appRuns();
    const m1Run = runs.filter((r) => r.m === 'm1').pop()!;
    const m2Run = runs.filter((r) => r.m === 'm2').pop()!;
    assert.ok(m1Run.to <= m2Run.from, `m1's app ran ${JSON.stringify(m1Run)}, m2's began ${m2Run.from}`);
    assert.deepEqual(overlaps(), []);
    const lines = hookLines(hookLog());
    const down = lines.find((l) => l.member === 'm1' && l.at >= t0 && /^stop .*: done/.test(l.what));
    const up = lines.find((l) => l.member === 'm2' && l.at >= t0 && /^start .*: begin/.test(l.what));
    assert.ok(down && up, lines.map((l) => l.line).join('\n'));
    assert.equal(down.cause, 'unhealthy');
    assert.equal(up.cause, 'elected');
    assert.ok(down.at <= up.at);
    assert.ok(Number(up.token) > Number(lines.find((l) => l.member === 'm1' && /^start/.test(l.what))!.token), 'a new term, a larger token');
  });

  test('stopping the active agent stops its unit; the other member takes over; never both units at once', async () => {
    await openDb('m1');
    await waitUntil('m1 eligible again', async () => (await agents.get('m1')!.get('/role/app/standby')).status === 200, { timeoutMs: 10_000 });
    assert.ok(await isActive('m2'), 'preempt: false: m2 keeps the role');
    const t0 = Date.now();
    await stopAgent('m2');
    // agent.stop() returns after the hand-over: on_standby has run.
    assert.equal(await state('m2'), 'inactive');
    const stopLine = hookLines(hookLog()).find((l) => l.member === 'm2' && l.at >= t0 && /^stop .*: done/.test(l.what));
    assert.equal(stopLine?.cause, 'shutdown');
    await waitUntil('m1 active', () => isActive('m1'), { timeoutMs: 15_000 });
    assert.equal(await state('m1'), 'active');
    await waitUntil('m1\'s app running again', () => appRuns().filter((r) => r.m === 'm1').length === 2);
    assert.deepEqual(overlaps(), [], 'm2\'s app had ended before m1\'s began');
    assert.equal(appRuns().length, 3, JSON.stringify(appRuns()));
    await stopAgent('m1');
    assert.equal(await state('m1'), 'inactive');

    const s = await sampler!.stop();
    sampler = undefined;
    console.log(`# ${s.samples} samples of both units' states`);
    assert.ok(s.samples > 10, `the sampler ran (${s.samples} samples)`);
    assert.deepEqual(s.both, [], 'both units running at once');
    const j = journal('m1');
    assert.ok(j.some((r) => r.hook === 'on_active' && r.outcome === 'done'), 'hooks are journalled');
  });
});

describe('examples/groups/vigil-group-dr-symlink.yaml: the EDINA symlink swap', () => {
  const SWAP = join(HOOKS, 'swap-symlink.sh');
  type Site = 'dc-a' | 'dc-b';
  const PRIORITY: Record<Site, number> = { 'dc-a': 100, 'dc-b': 50 };
  let root: string;
  const hookLog = () => join(root, 'dr-hooks.log');
  const link = () => join(root, 'srv', 'data');
  const target = (s: Site) => join(root, `san-${s}`, 'data');
  const placeholder = () => join(root, 'srv', 'data.inactive');
  const agents = new Map<Site, RunningAgent>();

  before(() => {
    root = join(tmp.dir, 'dr');
    for (const s of ['dc-a', 'dc-b'] as const) {
      mkdirSync(target(s), { recursive: true });
      writeFileSync(join(target(s), 'site'), s);
    }
    mkdirSync(join(root, 'srv'));
  });

  after(async () => {
    for (const a of agents.values()) await a.stop().catch(() => undefined);
  });

  /** A child process that resolves `path` through the link as fast as it can until stopped. */
  function startReader(path: string): { stop: () => Promise<{ reads: number; errors: Record<string, number>; seen: Record<string, number> }> } {
    const stopFile = join(tmp.dir, `reader-stop-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    const code = `
      const fs = require('fs');
      const [path, stopFile] = process.argv.slice(1);
      let reads = 0; const errors = {}; const seen = {};
      for (;;) {
        for (let i = 0; i < 200; i++) {
          try {
            const t = fs.readlinkSync(path);
            seen[t] = (seen[t] || 0) + 1;
            fs.readdirSync(path); // resolves through the link
            reads++;
          } catch (e) { errors[e.code] = (errors[e.code] || 0) + 1; }
        }
        if (fs.existsSync(stopFile)) break;
      }
      process.stdout.write(JSON.stringify({ reads, errors, seen }));`;
    const child: ChildProcess = spawn(process.execPath, ['-e', code, path, stopFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    const exited = once(child, 'exit');
    return {
      stop: async () => {
        writeFileSync(stopFile, '');
        await exited;
        return JSON.parse(out);
      },
    };
  }

  test('200 swaps by the hook script while a reader resolves the link: never ENOENT, never anything but the three places', async () => {
    const dir = join(root, 'swap');
    mkdirSync(dir);
    const l = join(dir, 'data');
    const env = { ...process.env, HOOK_LOG: join(dir, 'log'), VIGIL_GROUP: 'data', VIGIL_MEMBER: 'direct' };
    assert.equal((await run('sh', [SWAP, 'active', l, target('dc-a')], env)).code, 0);
    const reader = startReader(l);
    // active a, active b (the DR switch: b's term directly after a's), b gives up (placeholder); again.
    const steps = [['active', l, target('dc-a')], ['active', l, target('dc-b')], ['standby', l, target('dc-b')]];
    const t0 = Date.now();
    for (let i = 0; i < 200; i++) {
      const r = await run('sh', [SWAP, ...steps[i % 3]], env);
      assert.equal(r.code, 0, r.stderr);
    }
    const ms = Date.now() - t0;
    const seen = await reader.stop();
    console.log(`# 200 swaps in ${ms} ms; reader: ${JSON.stringify(seen)}`);
    assert.deepEqual(seen.errors, {}, 'the reader never failed to resolve the link');
    assert.deepEqual(Object.keys(seen.seen).sort(), [target('dc-a'), target('dc-b'), `${l}.inactive`].sort(), 'only the three places, each seen');
    assert.ok(seen.reads > 1000, `the reader ran alongside (${seen.reads} reads)`);
    assert.deepEqual(readdirSync(dir).sort(), ['data', 'data.inactive', 'data.lock', 'log'], 'no temporary link left behind');

    // The same reader does see the gap of a non-atomic replacement (unlink, then symlink).
    const control = startReader(l);
    await run('sh', ['-c', `i=0; while [ $i -lt 300 ]; do rm -f "$1"; ln -s "$2" "$1"; i=$((i+1)); done`, 'sh', l, target('dc-a')]);
    const c = await control.stop();
    console.log(`# control, rm + ln -s 300 times: ${JSON.stringify(c.errors)}`);
    assert.ok((c.errors.ENOENT ?? 0) > 0, `the reader can see a missing link: ${JSON.stringify(c)}`);

    // Refusals: a missing target, a real directory in the link's place.
    const missing = await run('sh', [SWAP, 'active', l, join(root, 'san-dc-a', 'nope')], env);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /REFUSED: target .*nope does not exist/);
    assert.equal(readlinkSync(l), target('dc-a'), 'a refused swap changes nothing');
    mkdirSync(join(dir, 'real'));
    const real = await run('sh', [SWAP, 'standby', join(dir, 'real'), target('dc-a')], env);
    assert.equal(real.code, 3);
    assert.match(real.stderr, /is not a symlink/);
    assert.equal((await run('sh', [SWAP, 'sideways', l, target('dc-a')], env)).code, 2);
  });

  function config(site: Site, over: { activeTarget?: string } = {}): string {
    const doc = example('vigil-group-dr-symlink.yaml');
    common(doc, site, '/vigil-examples-dr');
    Object.assign((doc.probes as Doc[]).find((p) => p.name === 'san')!, { path: target(site), interval: '1s', timeout: '900ms' });
    const g = doc.groups[0] as Doc;
    fastGroup(g);
    g.priority = PRIORITY[site];
    const paths = { '/srv/data': link(), '/srv/data.inactive': placeholder(), '/san/dc-a/data': target(site) };
    g.on_active.command = localCommand(g.on_active.command, { ...paths, '/san/dc-a/data': over.activeTarget ?? target(site) });
    g.on_standby.command = localCommand(g.on_standby.command, paths);
    return stringify(doc);
  }

  async function start(site: Site, over?: { activeTarget?: string }): Promise<RunningAgent> {
    const a = await startAgent(config(site, over), { ...process.env, HOOK_LOG: hookLog() });
    agents.set(site, a);
    return a;
  }
  const isActive = async (s: Site) => agents.has(s) && (await agents.get(s)!.get('/role/data')).status === 200;

  test('two sites share the link: it points at the active site\'s SAN; the DR switch-over is one swap per member; a missing target fails on_active and the member backs off', async () => {
    let reader: ReturnType<typeof startReader> | undefined;
    try {
      const g = example('vigil-group-dr-symlink.yaml').groups[0];
      assert.equal(g.preempt, false, 'no automatic fail-back');

      await start('dc-a');
      await waitUntil('dc-a active', () => isActive('dc-a'), { timeoutMs: 15_000 });
      assert.equal(readlinkSync(link()), target('dc-a'));
      reader = startReader(link());
      await start('dc-b');
      const lines = () => hookLines(hookLog());
      await waitUntil('dc-b startup on_standby', () => lines().find((l) => l.member === 'dc-b' && l.cause === 'startup'));
      assert.match(lines().find((l) => l.member === 'dc-b')!.what, /left alone: points at .*san-dc-a/, 'a starting standby leaves the other site\'s term alone');
      assert.equal(readlinkSync(link()), target('dc-a'));

      // The planned switch to DR.
      await waitUntil('dc-b eligible', async () => (await agents.get('dc-b')!.get('/role/data/standby')).status === 200, { timeoutMs: 10_000 });
      const t0 = Date.now();
      const sw = await admin(agents.get('dc-a')!, '/v1/groups/data/switchover', { to: 'dc-b' });
      assert.equal(sw.status, 202, sw.body);
      await waitUntil('dc-b active', () => isActive('dc-b'), { timeoutMs: 15_000 });
      assert.equal(readlinkSync(link()), target('dc-b'));
      const moved = lines().filter((l) => l.at >= t0);
      // (dc-a's startup on_standby created the placeholder.)
      assert.deepEqual(moved.map((l) => `${l.member} ${l.what.replaceAll(root, 'R')}`), [
        'dc-a standby R/srv/data: done (R/san-dc-a/data -> R/srv/data.inactive)',
        'dc-b active R/srv/data: done (R/srv/data.inactive -> R/san-dc-b/data)',
      ]);
      assert.deepEqual(moved.map((l) => l.cause), ['switchover', 'switchover']);
      await sleep(1000);
      assert.ok(await isActive('dc-b'), 'preempt: false: dc-a does not take the role back');

      // The reader's verdict on the swaps the agents made (below, a SAN goes away: its link dangles until on_standby runs).
      const r = await reader.stop();
      reader = undefined;
      console.log(`# reader during the agents' swaps: ${JSON.stringify({ reads: r.reads, errors: r.errors, seen: Object.keys(r.seen).map((k) => k.replace(root, 'R')) })}`);
      assert.deepEqual(r.errors, {}, 'the link always resolved');
      assert.deepEqual(Object.keys(r.seen).sort(), [target('dc-a'), target('dc-b'), placeholder()].sort());

      // dc-a restarted with an on_active target that is not there (a typo, or storage its probe does not cover).
      await agents.get('dc-a')!.stop();
      agents.delete('dc-a');
      await start('dc-a', { activeTarget: join(root, 'san-dc-a', 'not-mounted') });
      await waitUntil('dc-a eligible', async () => (await agents.get('dc-a')!.get('/role/data/standby')).status === 200, { timeoutMs: 10_000 });
      // DR's SAN goes away: dc-b steps down; dc-a is elected, its on_active is refused, it steps down and backs off.
      // (Not by a switchover to dc-a: when a switchover's target fails on_active, the request stays in etcd
      // until its lease ends, at least 30 s, and the other member waits for that target meanwhile.)
      const t1 = Date.now();
      renameSync(target('dc-b'), `${target('dc-b')}.offline`);
      await waitUntil('dc-a tried and backs off', async () => /on_active failed here/.test((await agents.get('dc-a')!.get('/status')).json().groups.groups.data.why_not_eligible ?? ''), { timeoutMs: 20_000 });
      assert.equal(readlinkSync(link()), placeholder(), 'nobody active: the placeholder (the refused swap changed nothing)');
      assert.ok(!(await isActive('dc-a')) && !(await isActive('dc-b')));
      renameSync(`${target('dc-b')}.offline`, target('dc-b'));
      await waitUntil('dc-b active again', () => isActive('dc-b'), { timeoutMs: 20_000 });
      assert.equal(readlinkSync(link()), target('dc-b'));
      const after1 = lines().filter((l) => l.at >= t1).map((l) => `${l.member} ${l.cause} ${l.what.replaceAll(root, 'R')}`);
      assert.deepEqual(after1, [
        'dc-b unhealthy standby R/srv/data: done (R/san-dc-b/data -> R/srv/data.inactive)',
        'dc-a elected active R/srv/data: REFUSED: target R/san-dc-a/not-mounted does not exist or is not a directory (storage not mounted?); R/srv/data still points at R/srv/data.inactive',
        'dc-a on_active_failed standby R/srv/data: done (already -> R/srv/data.inactive)',
        'dc-b elected active R/srv/data: done (R/srv/data.inactive -> R/san-dc-b/data)',
      ]);
      const j = journal('dc-a');
      assert.match(j.filter((x) => x.hook === 'on_active' && x.outcome === 'failed').pop()?.detail ?? '', /exited with code 3/);
      assert.match((await agents.get('dc-a')!.get('/status')).json().groups.groups.data.why_not_eligible, /stands again in \d+s/);
    } catch (err) {
      for (const [s, a] of agents) {
        const st = (await a.get('/status')).json().groups?.groups?.data ?? {};
        console.log(`# ${s}: ${JSON.stringify({ role: st.role, why_not_eligible: st.why_not_eligible, last_decision: st.last_decision, switchover: st.switchover, events: st.events })}`);
      }
      console.log(`# hook log:\n${existsSync(hookLog()) ? readFileSync(hookLog(), 'utf8') : ''}`);
      throw err;
    } finally {
      await reader?.stop();
    }
  });
});
