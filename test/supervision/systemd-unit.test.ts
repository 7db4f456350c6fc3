// packaging/vigil.service under a real systemd (a user manager: PID 1 here is
// not systemd). The unit is the shipped one with only what a test must change
// (test/helpers/user-unit.ts says what and why): the agent started from this
// checkout, its own state dir and port, and a 3 s watchdog instead of 30 s so
// the test is quick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { startUserManager, type UserManager } from '../harness/systemd.js';
import { freePort } from '../harness/ports.js';
import { userUnit } from '../helpers/user-unit.js';

const UNIT = 'vigil-sd-test.service';
const REPO = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const WATCHDOG_S = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function activeState(um: UserManager): Promise<Record<string, string>> {
  return um.show(UNIT, ['ActiveState', 'SubState', 'MainPID', 'NRestarts', 'StatusText', 'Result']);
}

async function scrape(port: number): Promise<number> {
  try { return (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(1000) })).status; } catch { return 0; }
}

test('vigil.service on a real systemd: READY, reload, watchdog restart of a frozen agent', { timeout: 120_000 }, async (t) => {
  const shipped = await readFile(join(REPO, 'packaging/vigil.service'), 'utf8');
  // /var/lib, not /tmp: the unit's PrivateTmp= hides the test's /tmp from the agent.
  const dir = await mkdtemp('/var/lib/vigil-sd-test-');
  const um = await startUserManager();
  let bus: dbus.MessageBus | undefined;
  let frozen: number | undefined;
  try {
    const port = await freePort();
    const config = join(dir, 'vigil.yaml');
    await writeFile(config, `agent:\n  listen: 127.0.0.1:${port}\n  state_dir: ${dir}\nprobes:\n  - name: root-disk\n    type: disk\n    path: /\n    interval: 1s\n`);
    const unit = userUnit(shipped, {
      stateDir: dir, notifySocket: join(um.runtimeDir, 'systemd', 'notify'), logFile: join(dir, 'agent.log'),
      execStart: `WorkingDirectory=${REPO}\nExecStart=${process.execPath} --import tsx ${REPO}/src/bin.ts run --config ${config}`,
      timing: { WatchdogSec: `${WATCHDOG_S}s`, RestartSec: '200ms' },
    });
    await um.writeUnit(UNIT, unit);

    await t.test('systemd-analyze verify accepts the unit as a user unit', async () => {
      const r = await new Promise<{ code: number; out: string }>((resolve) => execFile('systemd-analyze', ['--user', 'verify', join(um.unitDir, UNIT)],
        { env: { ...process.env, ...um.env } }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` })));
      assert.equal(r.code, 0, r.out);
    });

    await t.test('active only after READY=1, which comes once the listener is up', async () => {
      const t0 = Date.now();
      const started = await um.systemctl('start', '--no-block', UNIT);
      assert.equal(started.code, 0, started.stderr);
      const seen = new Set<string>();
      for (;;) {
        const s = await activeState(um);
        seen.add(s.ActiveState);
        if (s.ActiveState === 'active') {
          // READY=1 is sent after listen(): the moment systemd says active, /metrics answers.
          assert.equal(await scrape(port), 200, 'unit active but /metrics does not answer');
          assert.match(s.StatusText, /^serving http:\/\/127\.0\.0\.1:\d+/);
          break;
        }
        if (s.ActiveState === 'failed' || (s.ActiveState === 'inactive' && Date.now() - t0 > 500)) {
          const st = await um.systemctl('status', '--no-pager', '-n', '30', UNIT);
          assert.fail(`unit ${s.ActiveState}/${s.SubState} (${s.Result}):\n${st.stdout}${st.stderr}`);
        }
        assert.ok(Date.now() - t0 < 30_000, `not active after 30 s: ${JSON.stringify(s)}\n${await agentLog(dir)}`);
        await sleep(20);
      }
      assert.ok(seen.has('activating'), `states seen: ${[...seen].join(',')}`);
      console.log(`# activating -> active (READY=1) in ${Date.now() - t0} ms`);
    });

    await t.test('ProtectHome=, ProtectKernelTunables= and ProtectKernelLogs= are in force in the agent\'s namespace', async () => {
      const pid = mainPid(await activeState(um));
      // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ...; the last mount on a point is the one seen.
      const mounts = new Map<string, { root: string; opts: string }>();
      for (const line of (await readFile(`/proc/${pid}/mountinfo`, 'utf8')).split('\n').filter(Boolean)) {
        const f = line.split(' ');
        mounts.set(f[4], { root: f[3], opts: f[5] });
      }
      const seen = (p: string) => JSON.stringify(mounts.get(p));
      // Hidden paths get a mode-000 node from /run/systemd/inaccessible bind-mounted over them.
      assert.equal(mounts.get('/home')?.root, '/inaccessible/dir', `ProtectHome=: /home ${seen('/home')}`);
      assert.equal(mounts.get('/root')?.root, '/inaccessible/dir', `ProtectHome=: /root ${seen('/root')}`);
      assert.match(mounts.get('/proc/sys')?.opts ?? '', /^ro\b/, `ProtectKernelTunables=: /proc/sys ${seen('/proc/sys')}`);
      assert.equal(mounts.get('/proc/kallsyms')?.root, '/inaccessible/reg', `ProtectKernelTunables=: /proc/kallsyms ${seen('/proc/kallsyms')}`);
      assert.equal(mounts.get('/proc/kmsg')?.root, '/inaccessible/reg', `ProtectKernelLogs=: /proc/kmsg ${seen('/proc/kmsg')}`);
    });

    await t.test('a reload shows reloading, then active again', async () => {
      bus = dbus.sessionBus({ busAddress: um.busAddress });
      const obj = await bus.getProxyObject('org.freedesktop.systemd1', '/org/freedesktop/systemd1');
      const mgr = obj.getInterface('org.freedesktop.systemd1.Manager');
      await mgr.Subscribe();
      const unitPath = (await mgr.GetUnit(UNIT)) as string;
      const unitObj = await bus.getProxyObject('org.freedesktop.systemd1', unitPath);
      const props = unitObj.getInterface('org.freedesktop.DBus.Properties');
      const states: string[] = [];
      props.on('PropertiesChanged', (iface: string, changed: Record<string, { value: unknown }>) => {
        if (iface === 'org.freedesktop.systemd1.Unit' && changed.ActiveState) states.push(String(changed.ActiveState.value));
      });
      const pid = mainPid(await activeState(um));
      // SIGHUP straight to the agent, not `systemctl reload`: "reloading" must come from vigil's RELOADING=1,
      // not from systemd running ExecReload.
      const t0 = Date.now();
      process.kill(pid, 'SIGHUP');
      while (!(states.includes('reloading') && states.at(-1) === 'active')) {
        assert.ok(Date.now() - t0 < 10_000, `states after SIGHUP: ${states.join(',')}`);
        await sleep(20);
      }
      console.log(`# SIGHUP: ${states.join(' -> ')} in ${Date.now() - t0} ms`);
      assert.equal(Number((await activeState(um)).MainPID), pid, 'a reload must not restart the agent');
      // And the operator's way: ExecReload (kill -HUP) through systemctl.
      states.length = 0;
      const r = await um.systemctl('reload', UNIT);
      assert.equal(r.code, 0, r.stderr);
      const t1 = Date.now();
      // Two reloading phases may show: systemd's own while ExecReload runs, then vigil's RELOADING=1.
      while (!(states.includes('reloading') && (await activeState(um)).ActiveState === 'active' && states.at(-1) === 'active')) {
        assert.ok(Date.now() - t1 < 10_000, `states after systemctl reload: ${states.join(',')}`);
        await sleep(200);
      }
    });

    await t.test('a frozen agent (SIGSTOP) is killed by the watchdog and restarted', async () => {
      const before = await activeState(um);
      const pid = mainPid(before);
      assert.equal(before.NRestarts, '0');
      // Pings are flowing: staying active for longer than WatchdogSec proves it.
      await sleep(WATCHDOG_S * 1000 + 500);
      assert.equal((await activeState(um)).MainPID, String(pid), 'restarted although the agent was pinging');
      const t0 = Date.now();
      frozen = pid;
      process.kill(pid, 'SIGSTOP');
      let s = await activeState(um);
      while (!(s.NRestarts === '1' && s.ActiveState === 'active' && Number(s.MainPID) !== pid)) {
        // WatchdogSec, then SIGABRT (+SIGCONT) to the frozen process, then RestartSec and a start-up.
        assert.ok(Date.now() - t0 < (WATCHDOG_S + 15) * 1000, `not restarted: ${JSON.stringify(s)}`);
        await sleep(50);
        s = await activeState(um);
      }
      const took = Date.now() - t0;
      frozen = undefined;
      console.log(`# SIGSTOP -> killed by the watchdog and active again in ${took} ms (WatchdogSec=${WATCHDOG_S}s)`);
      assert.ok(took >= WATCHDOG_S * 1000 - 1000, `restarted after ${took} ms: sooner than the watchdog could have fired`);
      assert.ok(!existsPid(pid), 'the frozen agent is still there');
      assert.equal(await scrape(port), 200);
    });

    await t.test('stop: STOPPING=1, then a clean exit', async () => {
      const r = await um.systemctl('stop', UNIT);
      assert.equal(r.code, 0, r.stderr);
      const s = await activeState(um);
      assert.equal(s.ActiveState, 'inactive');
      assert.equal(s.Result, 'success');
    });
  } finally {
    bus?.disconnect();
    if (frozen !== undefined) { try { process.kill(frozen, 'SIGKILL'); } catch { /* gone */ } }
    await um.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

async function agentLog(dir: string): Promise<string> {
  return (await readFile(join(dir, 'agent.log'), 'utf8').catch(() => '(no agent.log)')).slice(-3000);
}

/** MainPID, never 0: kill(0, sig) would signal the test's own process group. */
function mainPid(s: Record<string, string>): number {
  const pid = Number(s.MainPID);
  assert.ok(pid > 0, `no main process: ${JSON.stringify(s)}`);
  return pid;
}

function existsPid(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}
