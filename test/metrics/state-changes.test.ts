// vigil_probe_state_changes_total{probe,to}: every health state change of a
// probe, each series at 0 from the probe's registration (so the first change
// is an increase), gone with the probe. A probe that flaps between passing
// and warning shows here while it never turns critical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent } from '../helpers/agent.js';
import { startHttpServer } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

const changes = (body: string, probe: string) => Object.fromEntries(body.split('\n')
  .map((l) => new RegExp(`^vigil_probe_state_changes_total\\{probe="${probe}",to="(\\w+)"\\} (\\d+)$`).exec(l)).filter((m) => m !== null)
  .map((m) => [m![1], Number(m![2])]));

test('a flapping probe counts its changes to passing and to warning; a removed probe loses its series', async () => {
  let n = 0;
  const target = await startHttpServer((_q, res) => { res.statusCode = n++ % 2 === 0 ? 200 : 503; res.end(); });
  const a = await startAgent('probes:\n  - { name: api, type: http, url: "URL", interval: 1h }\n  - { name: root, type: disk, path: /, interval: 1h }\n'.replace('URL', `${target.origin}/`));
  try {
    assert.deepEqual(changes((await a.get('/metrics')).body, 'api'), { passing: 0, warning: 0, critical: 0 }, 'at 0 before any run');
    a.writeConfig(`probes:\n  - { name: api, type: http, url: "${target.origin}/", interval: 100ms, failures_before_warning: 1, failures_before_critical: 3 }\n`);
    assert.equal((await a.post('/-/reload')).status, 200);
    const c = await waitUntil('six changes', async () => {
      const x = changes((await a.get('/metrics')).body, 'api');
      return x.passing + x.warning >= 6 ? x : undefined;
    }, { timeoutMs: 10_000 });
    assert.equal(c.critical, 0, 'never critical');
    assert.ok(Math.abs(c.passing - c.warning) <= 1, JSON.stringify(c));
    assert.deepEqual(changes((await a.get('/metrics')).body, 'root'), {}, 'the removed probe\'s series are gone');
  } finally {
    await a.stop();
    await target.close();
  }
});
