// SIGTERM / SIGINT to a real `vigil run`: stop scheduling, let the in-flight
// probe finish (bounded by shutdown_timeout), close the server, exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { fetchText, spawnVigil, tempDir } from '../helpers/agent.js';
import { freePort, startHttpServer } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

async function runAgainst(opts: { answerAfterMs: number; shutdownTimeout: string; signal: NodeJS.Signals }) {
  const events: string[] = [];
  let completed = 0;
  let aborted = 0;
  const target = await startHttpServer((req, res) => {
    events.push('request');
    res.on('close', () => { if (!res.writableFinished) aborted++; });
    setTimeout(() => { if (!res.destroyed) { res.end('done'); completed++; } }, opts.answerAfterMs).unref();
  });
  const { dir, cleanup } = tempDir();
  const port = await freePort();
  const file = join(dir, 'vigil.yaml');
  writeFileSync(file, `agent:
  listen: 127.0.0.1:${port}
  shutdown_timeout: ${opts.shutdownTimeout}
probes:
  - name: slow
    type: http
    url: ${target.origin}/
    schedule: "* * * * * *"
    timeout: 30s
`);
  const vigil = spawnVigil(['run', '--config', file]);
  try {
    await vigil.waitForLog('the agent to start', (l) => typeof l.msg === 'string' && l.msg.includes(' running 1 probes'));
    // Every second by cron: the first run starts within a second; later ticks are skipped while it is out.
    await waitUntil('the probe request to arrive', () => events.length >= 1, { timeoutMs: 5000, intervalMs: 20 });
    const signalledAt = Date.now();
    vigil.kill(opts.signal);
    const code = await vigil.exited;
    const took = Date.now() - signalledAt;
    // The server is closed: nothing listens on the port any more.
    const after = await fetchText(`http://127.0.0.1:${port}/healthz`).then(() => 'listening', () => 'closed');
    return { code, took, completed, aborted, after, requests: events.length, logs: vigil.logs, stderr: vigil.stderr() };
  } finally {
    vigil.kill('SIGKILL');
    cleanup();
    await target.close();
  }
}

test('SIGTERM: the in-flight probe is allowed to finish, then exit 0', async () => {
  const r = await runAgainst({ answerAfterMs: 1200, shutdownTimeout: '10s', signal: 'SIGTERM' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.completed, 1, 'the in-flight request was answered');
  assert.equal(r.requests, 1, 'a run was started after SIGTERM');
  assert.equal(r.aborted, 0, 'the in-flight request was cut off');
  assert.ok(r.took >= 800, `exited ${r.took} ms after SIGTERM: did not wait for the probe`);
  assert.ok(r.took < 8000, `exited ${r.took} ms after SIGTERM`);
  assert.equal(r.after, 'closed');
  assert.ok(r.logs.some((l) => l.msg === 'stopping: letting in-flight probes finish' && l.signal === 'SIGTERM'));
  assert.ok(r.logs.some((l) => l.msg === 'stopped'));
});

test('SIGINT with a probe that outlives shutdown_timeout: bounded wait, still exit 0', async () => {
  const r = await runAgainst({ answerAfterMs: 20_000, shutdownTimeout: '1s', signal: 'SIGINT' });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.took >= 900 && r.took < 6000, `exited ${r.took} ms after SIGINT`);
  assert.equal(r.completed, 0);
  assert.equal(r.after, 'closed');
});
