// The .deb end to end on this machine (root, Debian, no systemd as PID 1):
// build it with `npm run package`'s script, dpkg -i it, run the installed
// binary the way vigil.service does (as user vigil, on the shipped Node 24),
// scrape it, upgrade over it, remove, purge, and check nothing is left.
// The package is purged in `finally` whatever happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { freePort } from '../harness/ports.js';
import { closedPort } from '../helpers/servers.js';
import { requireBinary } from '../harness/require-binary.js';
import { LEFTOVERS, assertNotInstalled, buildDeb, groupExists, ok, sh, userExists } from '../helpers/deb.js';

const REPO = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the .deb: install, run as user vigil, scrape, upgrade, remove, purge', { timeout: 600_000 }, async (t) => {
  requireBinary('dpkg-deb', 'dpkg');
  requireBinary('systemd-analyze', 'systemd');
  await assertNotInstalled();
  const t0 = Date.now();
  const deb = await buildDeb(REPO);
  console.log(`# built ${deb} in ${Date.now() - t0} ms (${((await stat(deb)).size / 1e6).toFixed(1)} MB)`);

  const dir = await mkdtemp(join(tmpdir(), 'vigil-deb-'));
  let agent: ChildProcess | undefined;
  try {
    const t1 = Date.now();
    ok(await sh('dpkg', ['-i', deb]), 'dpkg -i');
    console.log(`# dpkg -i in ${Date.now() - t1} ms`);

    await t.test('files, user, group and state dir are in place', async () => {
      for (const p of ['/usr/bin/vigil', '/usr/lib/vigil/node', '/usr/lib/vigil/vigil.js', '/lib/systemd/system/vigil.service', '/etc/vigil/vigil.yaml', '/etc/default/vigil']) {
        assert.ok(existsSync(p), `${p} missing`);
      }
      assert.ok(await userExists('vigil'));
      assert.ok(await groupExists('vigil'));
      const st = await stat('/var/lib/vigil');
      assert.equal(st.mode & 0o777, 0o700);
      const uid = Number((await sh('id', ['-u', 'vigil'])).stdout.trim());
      assert.equal(st.uid, uid, '/var/lib/vigil is not owned by vigil');
      const conffiles = (await sh('dpkg-query', ['--showformat=${Conffiles}', '--show', 'vigil'])).stdout;
      assert.match(conffiles, /\/etc\/vigil\/vigil\.yaml/);
      assert.match(conffiles, /\/etc\/default\/vigil/);
    });

    await t.test('vigil --version runs on the shipped Node 24', async () => {
      const r = await sh('/usr/bin/vigil', ['--version']);
      ok(r, 'vigil --version');
      const version = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version as string;
      assert.match(r.stdout, new RegExp(`^vigil ${version.replace(/\./g, '\\.')} \\(node v24\\.`));
    });

    await t.test('vigil check-config accepts the shipped config', async () => {
      const r = await sh('/usr/bin/vigil', ['check-config', '/etc/vigil/vigil.yaml']);
      ok(r, 'check-config');
      assert.match(r.stdout, /valid \(2 probes\)/);
    });

    await t.test('systemd-analyze verify passes on the installed unit', async () => {
      ok(await sh('systemd-analyze', ['verify', '/lib/systemd/system/vigil.service']), 'systemd-analyze verify');
    });

    await t.test('the optional dependencies load from /usr/lib/vigil/node_modules, as src/optional-deps.ts loads them', async () => {
      // createRequire from the bundle's own path: the resolution optional-deps.ts does inside it.
      const code = `const r = require('node:module').createRequire('/usr/lib/vigil/vigil.js');
        for (const m of ['etcd3', '@aws-sdk/client-auto-scaling', 'mysql2', 'pg', 'dbus-next', 'bcryptjs']) r(m);`;
      ok(await sh('/usr/lib/vigil/node', ['-e', code]), 'require the optional deps');
      // And through the agent itself: a mysql and a postgres probe load their drivers on first use.
      const cfg = join(dir, 'db.yaml');
      const [p1, p2] = [await freePort(), await freePort()];
      await writeFile(cfg, `agent:\n  state_dir: ${dir}\nprobes:\n  - name: my\n    type: mysql\n    address: 127.0.0.1:${p1}\n    user: x\n    password: x\n    query: SELECT 1\n    timeout: 2s\n  - name: pg\n    type: postgres\n    address: 127.0.0.1:${p2}\n    user: x\n    password: x\n    database: x\n    query: SELECT 1\n    timeout: 2s\n`);
      for (const name of ['my', 'pg']) {
        const r = await sh('/usr/bin/vigil', ['probe', cfg, name], 30_000);
        assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`); // the probe ran and failed (nothing listens)...
        assert.doesNotMatch(`${r.stdout}${r.stderr}`, /Cannot find (module|package)|ERR_MODULE_NOT_FOUND/);
        assert.match(r.stdout, /ECONNREFUSED|refused/i, `${name}: ${r.stdout}`); // ...because the port is closed
      }
    });

    await t.test('the installed binary, as user vigil, serves /metrics behind basic auth', async () => {
      const port = await freePort();
      const cfg = join(dir, 'run.yaml');
      const web = join(dir, 'web.yml');
      // A rule that acts once leaves a real remediation journal in /var/lib/vigil for the upgrade to keep.
      await writeFile(cfg, `agent:\n  listen: 127.0.0.1:${port}\n  state_dir: /var/lib/vigil\n  startup_grace: 0s\nprobes:\n  - name: root-disk\n    type: disk\n    path: /\n    interval: 1s\n`
        + `  - { name: nothing-listens, type: tcp, address: "127.0.0.1:${await closedPort()}", interval: 300ms, failures_before_critical: 1 }\n`
        + 'remediations:\n  - name: note-it\n    when: { probe: nothing-listens, state: critical }\n    action: { type: exec, command: [/bin/true] }\n    max_actions: 1\n');
      // Basic auth makes the bundle start its bcrypt worker, which loads bcryptjs from /usr/lib/vigil/node_modules.
      await writeFile(web, `basic_auth_users:\n  prom: ${bcrypt.hashSync('s3cret', 10)}\n`);
      await chmod(dir, 0o755);
      for (const f of [cfg, web]) await chmod(f, 0o644);
      const auth = { authorization: `Basic ${Buffer.from('prom:s3cret').toString('base64')}` };
      agent = spawn('setpriv', ['--reuid=vigil', '--regid=vigil', '--init-groups', '/usr/bin/vigil', 'run', '--config', cfg, '--web.config.file', web], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      agent.stdout!.on('data', (d) => { out += String(d); });
      agent.stderr!.on('data', (d) => { out += String(d); });
      const deadline = Date.now() + 30_000;
      let body = '';
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: auth }).catch(() => undefined);
        body = res?.ok ? await res.text() : '';
        if (/vigil_probe_success\{[^}]*probe="root-disk"[^}]*\} 1/.test(body) && /vigil_remediation_actions_total\{[^}]*rule="note-it"[^}]*outcome="succeeded"[^}]*\} 1/.test(body)) break;
        assert.ok(agent.exitCode === null, `agent exited ${agent.exitCode}: ${out}`);
        assert.ok(Date.now() < deadline, `no root-disk success in /metrics after 30 s:\n${body.slice(0, 2000)}\n${out}`);
        await sleep(200);
      }
      assert.match(body, /vigil_build_info\{[^}]*node_version="v24\./);
      assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 401);
      assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Basic ${Buffer.from('prom:wrong').toString('base64')}` } })).status, 401);
      const exited = new Promise<number | null>((r) => agent!.once('exit', (code) => r(code)));
      agent.kill('SIGTERM');
      assert.equal(await exited, 0, out);
      agent = undefined;
    });

    await t.test('upgrade to a newer version keeps the edited config, the journal and the state dir', async () => {
      const journal = await readFile('/var/lib/vigil/remediation-journal.jsonl', 'utf8');
      assert.match(journal, /"rule":"note-it"/, 'the run left a journal');
      await appendFile('/etc/vigil/vigil.yaml', '# edited by the operator\n');
      await appendFile('/etc/default/vigil', 'VIGIL_OPTS="--web.config.file /etc/vigil/web.yml"\n');
      const before = (await sh('dpkg-query', ['-W', '-f=${Version}', 'vigil'])).stdout;
      const newer = `${before}+upgrade.1`;
      const next = await buildDeb(REPO, newer);
      assert.ok(next.endsWith(`vigil_${newer}_amd64.deb`), next);
      const r = await sh('dpkg', ['-i', next]);
      ok(r, 'dpkg -i (upgrade)');
      assert.doesNotMatch(r.stdout + r.stderr, /conffile|Configuration file/i, 'dpkg asked about a conffile the package did not change');
      assert.equal((await sh('dpkg-query', ['-W', '-f=${Version}', 'vigil'])).stdout, newer);
      assert.equal((await sh('dpkg', ['--compare-versions', newer, 'gt', before])).code, 0, `${newer} is not newer than ${before}`);
      assert.match((await sh('/usr/bin/vigil', ['--version'])).stdout, new RegExp(`^vigil ${newer.replace(/[.+]/g, '\\$&')} \\(node v24\\.`));
      assert.match(await readFile('/etc/vigil/vigil.yaml', 'utf8'), /# edited by the operator/);
      assert.match(await readFile('/etc/default/vigil', 'utf8'), /--web\.config\.file/);
      assert.equal(await readFile('/var/lib/vigil/remediation-journal.jsonl', 'utf8'), journal, 'the journal changed in the upgrade');
      const st = await stat('/var/lib/vigil');
      assert.equal(st.mode & 0o777, 0o700);
      ok(await sh('/usr/bin/vigil', ['check-config', '/etc/vigil/vigil.yaml']), 'the kept config still checks');
    });

    await t.test('remove keeps config, state and user; purge removes everything', async () => {
      ok(await sh('dpkg', ['-r', 'vigil']), 'dpkg -r');
      assert.ok(!existsSync('/usr/bin/vigil') && !existsSync('/usr/lib/vigil'));
      assert.ok(existsSync('/etc/vigil/vigil.yaml') && existsSync('/var/lib/vigil/remediation-journal.jsonl') && await userExists('vigil'));
      ok(await sh('dpkg', ['--purge', 'vigil']), 'dpkg --purge');
      for (const p of LEFTOVERS) assert.ok(!existsSync(p), `${p} left after purge`);
      assert.ok(!(await userExists('vigil')), 'user vigil left after purge');
      assert.ok(!(await groupExists('vigil')), 'group vigil left after purge');
      assert.equal((await sh('dpkg-query', ['-W', 'vigil'])).code, 1, 'dpkg still knows vigil');
    });
  } finally {
    if (agent && agent.exitCode === null) agent.kill('SIGKILL');
    await sh('dpkg', ['--purge', 'vigil']);
    await rm(dir, { recursive: true, force: true });
  }
});
