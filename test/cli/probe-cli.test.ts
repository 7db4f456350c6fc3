// `vigil probe` as a real subprocess: a human result by default, the JSON in
// /status's snake_case with --json, the config by --config FILE (before or
// after the name) or as the older positional FILE; exit 0 ok, 1 failed, 2
// when the probe or the file is not there.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runVigil, tempDir } from '../helpers/agent.js';
import { closedPort, startHttpServer, type TestServer } from '../helpers/servers.js';

const work = tempDir('vigil-probe-cli-');
const file = join(work.dir, 'vigil.yaml');
let web: TestServer;
let refused: number;

before(async () => {
  web = await startHttpServer((_q, res) => res.end('ok'));
  refused = await closedPort();
  writeFileSync(file, `probes:
  - { name: web, type: http, url: "${web.origin}/health" }
  - { name: db-port, type: tcp, address: "127.0.0.1:${refused}" }
  - { name: root, type: disk, path: / }
`);
});
after(async () => { await web.close(); work.cleanup(); });

test('human by default: verdict, time, message and observations (sizes also in human units)', async () => {
  const ok = await runVigil(['probe', '--config', file, 'web']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`^web \\(http\\): ok in [\\d.]+ms\\n  GET ${web.origin.replace(/\./g, '\\.')}/health returned 200\\n  vigil_http_status_code 200\\n$`));
  const disk = await runVigil(['probe', 'root', '--config', file]);
  assert.equal(disk.code, 0, disk.stderr);
  assert.match(disk.stdout, /^ {2}vigil_disk_avail_bytes\{path="\/"\} \d+ \([\d.]+ [KMGT]iB\)$/m);
  const failed = await runVigil(['probe', file, 'db-port']);
  assert.equal(failed.code, 1);
  assert.equal(failed.stdout.split('\n')[0].replace(/in [\d.]+ms/, 'in Xms'), 'db-port (tcp): FAILED (connect_refused) in Xms');
  assert.match(failed.stdout, new RegExp(`^ {2}connect to 127\\.0\\.0\\.1:${refused}: connect ECONNREFUSED`, 'm'));
});

test('--json: the result in /status\'s snake_case, observations as the metrics they become', async () => {
  const r = await runVigil(['probe', '--json', '--config', file, 'db-port']);
  assert.equal(r.code, 1);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(j), ['name', 'type', 'time', 'ok', 'reason', 'message', 'duration_seconds', 'observations']);
  assert.equal(j.name, 'db-port');
  assert.equal(j.ok, false);
  assert.equal(j.reason, 'connect_refused');
  assert.equal(typeof j.duration_seconds, 'number');
  const w = JSON.parse((await runVigil(['probe', '--json', file, 'web'])).stdout);
  assert.deepEqual(w.observations, [{ metric: 'vigil_http_status_code', labels: {}, value: 200 }]);
});

test('no such probe, no such file: exit 2 saying which there are', async () => {
  const r = await runVigil(['probe', '--config', file, 'nope']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `vigil probe: VIGIL_E_CLI_USAGE: no probe named "nope" in ${file} (have: web, db-port, root)\n`);
  const missing = await runVigil(['probe', '--config', join(work.dir, 'missing.yaml'), 'web']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing\.yaml: 1 problem\n {2}config file \S+ does not exist\n$/);
  const none = await runVigil(['probe', '--config', file]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^vigil probe: VIGIL_E_CLI_USAGE: which probe\?/);
});
