// "Done when" of #17, on this machine: from the .deb to a supervised, hardened,
// TLS-and-password-protected vigil that a real Prometheus scrapes. The
// installed unit (/lib/systemd/system/vigil.service) runs the installed
// /usr/bin/vigil under a real systemd user manager (PID 1 here is not
// systemd; test/helpers/user-unit.ts lists what the test must change), with
// TLS and basic auth given the operator's way: VIGIL_OPTS in /etc/default/vigil.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, readlink, rm, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { freePort } from '../harness/ports.js';
import { startPrometheus, type PrometheusServer } from '../harness/prometheus.js';
import { startUserManager, type UserManager } from '../harness/systemd.js';
import { makeSelfSignedCert } from '../helpers/tls.js';
import { userUnit } from '../helpers/user-unit.js';
import { assertNotInstalled, buildDeb, ok, sh } from '../helpers/deb.js';

const REPO = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const UNIT = 'vigil.service';

test('the .deb, its unit under systemd, TLS and basic auth from /etc/default/vigil, scraped by Prometheus', { timeout: 600_000 }, async () => {
  await assertNotInstalled();
  const deb = await buildDeb(REPO);
  // /var/lib: the unit's PrivateTmp= hides /tmp from the agent.
  const state = await mkdtemp('/var/lib/vigil-fleet-test-');
  const cert = makeSelfSignedCert({ cn: 'localhost' });
  let um: UserManager | undefined;
  let prom: PrometheusServer | undefined;
  try {
    ok(await sh('dpkg', ['-i', deb]), 'dpkg -i');
    const port = await freePort();
    await copyFile(cert.certFile, '/etc/vigil/tls.crt');
    await copyFile(cert.keyFile, '/etc/vigil/tls.key');
    await chmod('/etc/vigil/tls.key', 0o600);
    await writeFile('/etc/vigil/web.yml', `tls_server_config:\n  cert_file: /etc/vigil/tls.crt\n  key_file: /etc/vigil/tls.key\nbasic_auth_users:\n  prometheus: ${bcrypt.hashSync('scrape-pw', 10)}\n`);
    await writeFile('/etc/vigil/vigil.yaml', `agent:\n  listen: 127.0.0.1:${port}\n  state_dir: ${state}\nprobes:\n  - name: root-disk\n    type: disk\n    path: /\n    interval: 1s\n`);
    await writeFile('/etc/default/vigil', 'VIGIL_OPTS="--web.config.file /etc/vigil/web.yml"\n');

    um = await startUserManager();
    const shipped = await readFile('/lib/systemd/system/vigil.service', 'utf8');
    await um.writeUnit(UNIT, userUnit(shipped, { stateDir: state, notifySocket: join(um.runtimeDir, 'systemd', 'notify'), logFile: join(state, 'agent.log') }));
    const t0 = Date.now();
    // Type=notify: `systemctl start` returns once vigil sent READY=1.
    const started = await um.systemctl('start', UNIT);
    const log = async () => (await readFile(join(state, 'agent.log'), 'utf8').catch(() => '')).slice(-2000);
    assert.equal(started.code, 0, `${started.stderr}\n${await log()}`);
    console.log(`# systemctl start vigil (installed binary, Node 24) returned after READY=1 in ${Date.now() - t0} ms`);
    const s = await um.show(UNIT, ['ActiveState', 'StatusText', 'WatchdogUSec', 'NotifyAccess', 'ExecMainPID']);
    assert.equal(s.ActiveState, 'active');
    assert.match(s.StatusText, new RegExp(`^serving https://127\\.0\\.0\\.1:${port}`));
    assert.equal(s.WatchdogUSec, '30s');
    assert.equal(s.NotifyAccess, 'all');
    // The main PID is node itself (the wrapper exec'd it), so signals and the watchdog reach the agent.
    assert.equal(await readlink(`/proc/${s.ExecMainPID}/exe`), '/usr/lib/vigil/node');

    prom = await startPrometheus({
      scrape: [{ job: 'vigil-fleet', targets: [`127.0.0.1:${port}`], scheme: 'https', tlsConfig: { ca_file: cert.certFile, server_name: 'localhost' }, basicAuth: { username: 'prometheus', password: 'scrape-pw' } }],
    });
    await prom.waitForUp('vigil-fleet', 30_000);
    const series = await prom.query('vigil_probe_success{job="vigil-fleet",probe="root-disk"}');
    assert.equal(series.result[0]?.value?.[1], '1', JSON.stringify(series.result));
    const build = await prom.query('vigil_build_info{job="vigil-fleet"}');
    assert.match(build.result[0]?.metric.node_version ?? '', /^v24\./);
    // Without the password: 401, over TLS.
    const res = await sh('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', cert.certFile, `https://localhost:${port}/metrics`]);
    assert.equal(res.stdout, '401');

    const stopped = await um.systemctl('stop', UNIT);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal((await um.show(UNIT, ['Result'])).Result, 'success');
  } finally {
    await prom?.stop();
    await um?.stop();
    await sh('dpkg', ['--purge', 'vigil']);
    cert.cleanup();
    await rm(state, { recursive: true, force: true });
  }
});
