// A probe that flaps (failing, passing, failing…) for many cycles against a
// real agent with a real exec action: actions never exceed max_actions in any
// window, the breaker opens (metric, reason), and closes again after its window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { journalLines, lines, sleep, startAgent, startService, tempDir, type RunningAgent } from './agent-helpers.js';

const WINDOW_MS = 2000;
const MAX = 3;

test('flapping for many cycles: never more than max_actions per window', async () => {
  const { dir, cleanup } = await tempDir('vigil-flap-');
  const svc = await startService();
  svc.mode = 'flap'; // every other request fails
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), `agent:
  state_dir: ${dir}/state
  startup_grace: 0s
  action_budget: { max_actions: 1000 } # only the rule's breaker limits here
probes:
  - name: api
    type: http
    url: http://127.0.0.1:${svc.port}/
    interval: 50ms
    timeout: 40ms
    failures_before_critical: 1
remediations:
  - name: fix-api
    when: { probe: api, state: critical }
    action: { type: exec, command: [/bin/sh, -c, 'echo "$VIGIL_INTENT_ID" >> ${dir}/runs'] }
    cooldown: 100ms
    grace: 0s
    max_actions: ${MAX}
    window: ${WINDOW_MS}ms
`);
    let sawOpen = false;
    const until = Date.now() + 4 * WINDOW_MS + 500;
    while (Date.now() < until) {
      if ((await a.metric('vigil_remediation_breaker_open', { rule: 'fix-api' })) === 1) sawOpen = true;
      await sleep(50);
    }
    const blockedCount = (await a.metric('vigil_remediation_blocked_total', { rule: 'fix-api', reason: 'breaker_open' }))!;
    await a.stop();
    const cycles = svc.requests / 2;
    const intents = (await journalLines(join(dir, 'state'))).filter((r) => r.event === 'intent').map((r) => r.ts as number);
    const runs = await lines(join(dir, 'runs'));
    console.log(`# ${cycles} flap cycles, ${intents.length} actions in ${((4 * WINDOW_MS + 500) / 1000).toFixed(1)} s (max ${MAX} per ${WINDOW_MS} ms)`);
    assert.ok(cycles >= 40, `only ${cycles} flap cycles`);
    assert.equal(runs.length, intents.length, 'every intent ran exactly once');
    assert.ok(intents.length >= 2 * MAX, `the breaker closed after its window and the rule acted again (${intents.length} actions)`);
    for (const t of intents) {
      const inWindow = intents.filter((x) => x > t - WINDOW_MS && x <= t).length;
      assert.ok(inWindow <= MAX, `${inWindow} actions in the ${WINDOW_MS} ms before ${new Date(t).toISOString()}`);
    }
    assert.ok(sawOpen, 'vigil_remediation_breaker_open was 1 while the breaker was open');
    const blocked = a.logs.filter((l) => l.reason === 'breaker_open');
    assert.ok(blocked.length >= 1 && blocked.length <= 2 * intents.length, `breaker_open logged on change only (${blocked.length} lines)`);
    assert.ok(blockedCount > blocked.length,
      'each blocked decision is counted, each change logged once');
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});
