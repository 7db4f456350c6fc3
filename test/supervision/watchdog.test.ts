// The watchdog's decision alone: a ping only while Agent.livenessProblems() is
// empty; the interval is half of WATCHDOG_USEC; and what goes to systemd-notify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Watchdog, watchdogIntervalMs } from '../../src/supervision/watchdog.js';
import { createSdNotifier } from '../../src/supervision/sd-notify.js';

test('WATCHDOG_USEC: ping at half; none without it or for another WATCHDOG_PID', () => {
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '3000000', WATCHDOG_PID: '42' }, 42), 1500);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '3000000', WATCHDOG_PID: '41' }, 42), undefined);
  assert.equal(watchdogIntervalMs({}, 42), undefined);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'x' }, 42), undefined);
});

test('a stalled loop or wedged scheduler withholds the ping; progress resumes it', () => {
  let problems: string[] = [];
  let pings = 0;
  const w = new Watchdog({ intervalMs: 1000, problems: () => problems, ping: async () => { pings++; }, logger: pino({ level: 'silent' }) });
  assert.equal(w.tick(), true);
  problems = ['event loop stalled: scheduler heartbeat 7s old'];
  assert.equal(w.tick(), false);
  problems = ['probes overdue: root-disk'];
  assert.equal(w.tick(), false);
  problems = [];
  assert.equal(w.tick(), true);
  assert.equal(pings, 2);
});

test('sd-notify: nothing without NOTIFY_SOCKET; the messages systemd expects with it', async () => {
  const calls: string[][] = [];
  const run = async (args: readonly string[]) => { calls.push([...args]); };
  const off = createSdNotifier({}, 7, run);
  await off.ready('x'); await off.watchdog();
  assert.equal(off.enabled, false);
  assert.equal(calls.length, 0);
  const on = createSdNotifier({ NOTIFY_SOCKET: '/run/systemd/notify' }, 7, run);
  await on.ready('serving'); await on.reloading('r'); await on.stopping('s'); await on.watchdog();
  assert.deepEqual(calls[0], ['--pid=7', '--ready', '--status=serving']);
  assert.deepEqual(calls[1].slice(0, 3), ['--pid=7', '--status=r', 'RELOADING=1']);
  assert.match(calls[1][3], /^MONOTONIC_USEC=\d+$/);
  assert.deepEqual(calls[2], ['--pid=7', '--status=s', 'STOPPING=1']);
  assert.deepEqual(calls[3], ['--pid=7', 'WATCHDOG=1']);
});
