// Scheduler.apply on reload: unchanged probes keep their runner (and schedule),
// changed ones are replaced, missing ones stopped. And, on a real agent, a
// tick that finds the previous run still going is counted in
// vigil_probe_skipped_total.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import type { CommonProbeConfig } from '../../src/probes/definition.js';
import type { Probe } from '../../src/probes/types.js';
import { startAgent } from '../helpers/agent.js';
import { startSilentServer } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

const common = (name: string, everyMs = 100): CommonProbeConfig => ({
  name, type: 'test', schedule: { kind: 'interval', everyMs }, timeoutMs: 50,
  failures_before_warning: 1, failures_before_critical: 3, successes_before_passing: 1,
});

test('apply keeps unchanged runners, replaces changed ones, removes missing ones', async () => {
  const created: string[] = [];
  const closed: string[] = [];
  const create = (cfg: CommonProbeConfig): Probe => {
    created.push(cfg.name);
    return {
      name: cfg.name, type: cfg.type,
      run: async () => ({ ok: true, durationSeconds: 0, observations: [] }),
      close: async () => { closed.push(cfg.name); },
    };
  };
  const s = new Scheduler({ onResult: () => undefined, onSkip: () => undefined, onLateness: () => undefined });
  s.start();
  let res = await s.apply([{ cfg: common('a'), fingerprint: { v: 1 } }, { cfg: common('b'), fingerprint: { v: 1 } }], create, 100);
  assert.deepEqual(res, { added: ['a', 'b'], changed: [], kept: [], removed: [] });
  res = await s.apply([{ cfg: common('a'), fingerprint: { v: 1 } }, { cfg: common('b', 200), fingerprint: { v: 2 } }, { cfg: common('c'), fingerprint: {} }], create, 100);
  assert.deepEqual(res, { added: ['c'], changed: ['b'], kept: ['a'], removed: [] }, 'b has a new runner: changed, not added');
  assert.deepEqual(closed, ['b']);
  res = await s.apply([{ cfg: common('c'), fingerprint: {} }], create, 100);
  assert.deepEqual(res.removed.map((r) => r.name).sort(), ['a', 'b']);
  assert.deepEqual(created, ['a', 'b', 'b', 'c']);
  await s.stop(100);
  assert.deepEqual(closed.sort(), ['a', 'b', 'b', 'c']);
});

test('a real agent counts skipped ticks in vigil_probe_skipped_total', async () => {
  // Every second by cron, with a 2.5 s timeout against a server that never
  // answers: each run outlives the next tick, which is skipped.
  const silent = await startSilentServer();
  const a = await startAgent(`probes:
  - name: slow
    type: http
    url: ${silent.origin}/
    schedule: "* * * * * *"
    timeout: 2500ms
`);
  try {
    const skipped = await waitUntil('a skipped tick in /metrics', async () => {
      const m = (await a.get('/metrics')).body.match(/^vigil_probe_skipped_total\{probe="slow"\} (\d+)/m);
      return m && Number(m[1]) >= 2 ? Number(m[1]) : undefined;
    }, { timeoutMs: 6000, intervalMs: 200 });
    assert.ok(skipped >= 2);
  } finally {
    await a.stop();
    await silent.close();
  }
});
