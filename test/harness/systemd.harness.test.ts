// Proves the systemd harness: a real user manager whose units can be
// started, crash, be restarted by systemctl, and be restarted over D-Bus
// exactly the way the agent's watchdog will do it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dbus from 'dbus-next';
import { startUserManager } from './systemd.js';

const UNIT = 'vigil-demo.service';

test('systemd user manager: crash, systemctl restart, D-Bus RestartUnit', async () => {
  const t0 = Date.now();
  const um = await startUserManager();
  console.log(`# systemd --user up in ${Date.now() - t0} ms`);
  let bus: dbus.MessageBus | undefined;
  try {
    await um.writeUnit(UNIT, '[Service]\nExecStart=/bin/sleep infinity\n');
    const start = await um.systemctl('start', UNIT);
    assert.equal(start.code, 0, start.stderr);
    await um.waitActive(UNIT, 5000);
    assert.equal((await um.systemctl('is-active', UNIT)).stdout.trim(), 'active');
    const pid1 = Number((await um.show(UNIT, ['MainPID'])).MainPID);
    assert.ok(pid1 > 0);

    // A crash: no Restart= in the unit, so it stays down until someone acts.
    process.kill(pid1, 'SIGKILL');
    const downBy = Date.now() + 5000;
    while ((await um.systemctl('is-active', UNIT)).stdout.trim() === 'active') {
      assert.ok(Date.now() < downBy, 'unit still active after SIGKILL of MainPID');
      await new Promise((r) => setTimeout(r, 20));
    }
    const restart = await um.systemctl('restart', UNIT);
    assert.equal(restart.code, 0, restart.stderr);
    await um.waitActive(UNIT, 5000);
    const pid2 = Number((await um.show(UNIT, ['MainPID'])).MainPID);
    assert.ok(pid2 > 0 && pid2 !== pid1, `MainPID ${pid1} -> ${pid2}`);

    // The D-Bus path later code uses.
    bus = dbus.sessionBus({ busAddress: um.busAddress });
    const obj = await bus.getProxyObject('org.freedesktop.systemd1', '/org/freedesktop/systemd1');
    const mgr = obj.getInterface('org.freedesktop.systemd1.Manager');
    await mgr.Subscribe();
    // Listen before calling: JobRemoved may arrive before RestartUnit's reply is handled.
    const removed: { job: string; unit: string; result: string }[] = [];
    let wake = () => {};
    mgr.on('JobRemoved', (_id: number, job: string, unit: string, result: string) => {
      removed.push({ job, unit, result });
      wake();
    });
    const t1 = Date.now();
    const job = (await mgr.RestartUnit(UNIT, 'replace')) as string;
    assert.match(job, /^\/org\/freedesktop\/systemd1\/job\/\d+$/);
    const doneBy = Date.now() + 5000;
    while (!removed.some((r) => r.job === job)) {
      assert.ok(Date.now() < doneBy, `no JobRemoved for ${job}`);
      await new Promise<void>((r) => { wake = r; setTimeout(r, 100); });
    }
    const ev = removed.find((r) => r.job === job)!;
    console.log(`# D-Bus RestartUnit -> JobRemoved(${ev.result}) in ${Date.now() - t1} ms`);
    assert.equal(ev.unit, UNIT);
    assert.equal(ev.result, 'done');
    const pid3 = Number((await um.show(UNIT, ['MainPID'])).MainPID);
    assert.ok(pid3 > 0 && pid3 !== pid2, `MainPID ${pid2} -> ${pid3}`);
  } finally {
    bus?.disconnect();
    const t2 = Date.now();
    await um.stop();
    console.log(`# systemd --user stopped in ${Date.now() - t2} ms`);
  }
});
