// Basic auth against bcrypt hashes: hashes made by Go's bcrypt (exporter-
// toolkit's own test users) verify; verdicts are cached so a scrape every
// second costs no bcrypt; the event loop keeps turning while a hash is
// checked; a flood of wrong passwords neither evicts the good entry nor
// queues without bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicAuth, basicCredentials } from '../../src/server/basic-auth.js';
import { BcryptWorker, type CompareResult } from '../../src/server/bcrypt-worker.js';

// exporter-toolkit's web/testdata/web_config_users.good.yml: alice / alice123 (cost 12), made by Go.
const ALICE = '$2y$12$1DpfPeqF9HzHJt.EWswy1exHluGfbhnn3yXhR7Xes6m3WJqFg0Wby';
// exporter-toolkit's handler.go "fakepassword" hash (cost 10).
const FAKE = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A BcryptWorker that counts what it is asked and answers from the real one. */
class CountingWorker extends BcryptWorker {
  calls = 0;
  override compare(password: string, hash: string | undefined, cost?: number): Promise<CompareResult> {
    this.calls++;
    return super.compare(password, hash, cost);
  }
}

test('Authorization: Basic parsing', () => {
  assert.deepEqual(basicCredentials(basic('alice', 'a:b:c')), { user: 'alice', password: 'a:b:c' });
  assert.deepEqual(basicCredentials('basic   ' + Buffer.from('u:').toString('base64')), { user: 'u', password: '' });
  assert.equal(basicCredentials(undefined), undefined);
  assert.equal(basicCredentials('Bearer abc'), undefined);
  assert.equal(basicCredentials(`Basic ${Buffer.from('no-colon').toString('base64')}`), undefined);
});

test('Go-made hashes verify; wrong password, unknown user and no header are denied', async () => {
  const w = new CountingWorker();
  const auth = new BasicAuth(w);
  try {
    const users = new Map([['alice', ALICE], ['fake', FAKE]]);
    assert.equal(await auth.check(users, basic('alice', 'alice123')), 'ok');
    assert.equal(await auth.check(users, basic('fake', 'fakepassword')), 'ok');
    assert.equal(await auth.check(users, basic('alice', 'alice1234')), 'denied');
    assert.equal(await auth.check(users, basic('bob', 'alice123')), 'denied');
    // exporter-toolkit's checks that a user and a hash cannot be mixed up:
    assert.equal(await auth.check(users, basic(`alice${ALICE}`, 'fakepassword')), 'denied');
    assert.equal(await auth.check(users, basic('alice', `${FAKE}fakepassword`)), 'denied');
    assert.equal(await auth.check(users, undefined), 'denied');
    assert.equal(w.calls, 6, 'every distinct attempt costs one bcrypt comparison, unknown users too (no timing oracle)');
  } finally {
    await auth.close();
  }
});

test('cached: a repeated login costs no bcrypt; a changed hash is checked again', async () => {
  const w = new CountingWorker();
  const auth = new BasicAuth(w);
  try {
    const users = new Map([['alice', ALICE]]);
    assert.equal(await auth.check(users, basic('alice', 'alice123')), 'ok');
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) assert.equal(await auth.check(users, basic('alice', 'alice123')), 'ok');
    const perCheck = (performance.now() - t0) / 1000;
    assert.equal(w.calls, 1);
    assert.ok(perCheck < 0.5, `${perCheck.toFixed(3)} ms per cached check`);
    assert.equal(await auth.check(users, basic('alice', 'wrong')), 'denied');
    assert.equal(await auth.check(users, basic('alice', 'wrong')), 'denied');
    assert.equal(w.calls, 2, 'a bad verdict is cached too');
    // The file now has another hash for alice: the old verdict does not apply.
    assert.equal(await auth.check(new Map([['alice', FAKE]]), basic('alice', 'alice123')), 'denied');
    assert.equal(w.calls, 3);
    // Removed user: denied without asking bcrypt about the old hash.
    assert.equal(await auth.check(new Map(), basic('alice', 'alice123')), 'denied');
  } finally {
    await auth.close();
  }
});

test('concurrent identical logins share one comparison', async () => {
  const w = new CountingWorker();
  const auth = new BasicAuth(w);
  try {
    const users = new Map([['fake', FAKE]]);
    const all = await Promise.all(Array.from({ length: 5 }, () => auth.check(users, basic('fake', 'fakepassword'))));
    assert.deepEqual(all, ['ok', 'ok', 'ok', 'ok', 'ok']);
    assert.equal(w.calls, 1);
  } finally {
    await auth.close();
  }
});

test('the event loop keeps turning while bcrypt works (a cost-12 hash takes ~400 ms in JS)', async () => {
  const auth = new BasicAuth();
  const h = monitorEventLoopDelay({ resolution: 5 });
  try {
    await auth.check(new Map([['fake', FAKE]]), basic('fake', 'warm-up')); // starts the worker
    h.enable();
    const t0 = Date.now();
    assert.equal(await auth.check(new Map([['alice', ALICE]]), basic('alice', 'alice123')), 'ok');
    const took = Date.now() - t0;
    h.disable();
    const maxLagMs = h.max / 1e6;
    assert.ok(took > 100, `took ${took} ms: was it really checked?`);
    assert.ok(maxLagMs < 60, `event loop stalled ${maxLagMs.toFixed(1)} ms during a ${took} ms check`);
  } finally {
    await auth.close();
  }
});

test('a flood of wrong passwords: bounded queue (busy), and Prometheus\'s good entry stays cached', async () => {
  const w = new CountingWorker({ maxQueue: 4 });
  const auth = new BasicAuth(w);
  try {
    const users = new Map([['fake', FAKE]]);
    assert.equal(await auth.check(users, basic('fake', 'fakepassword')), 'ok');
    const flood = await Promise.all(Array.from({ length: 20 }, (_, i) => auth.check(users, basic('fake', `guess-${i}`))));
    assert.equal(flood.filter((v) => v === 'busy').length, 16, 'four queued, the rest refused at once');
    assert.equal(flood.filter((v) => v === 'denied').length, 4);
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 4 }, (_, i) => auth.check(users, basic('fake', `more-${round}-${i}`))));
    }
    const before = w.calls;
    assert.equal(await auth.check(users, basic('fake', 'fakepassword')), 'ok');
    assert.equal(w.calls, before, 'still cached: wrong passwords live in their own cache');
  } finally {
    await auth.close();
  }
});

test('a worker that fails answers "unavailable", says why, and is not remembered as a wrong password', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bcrypt-'));
  const marker = join(dir, 'broken');
  writeFileSync(marker, '');
  // bcryptjs as a broken install would be while `marker` exists, the real one after.
  const shim = join(dir, 'bcryptjs-shim.cjs');
  writeFileSync(shim, `if (require('node:fs').existsSync(${JSON.stringify(marker)})) throw new Error('a broken bcryptjs');\n`
    + `module.exports = require(${JSON.stringify(createRequire(import.meta.url).resolve('bcryptjs'))});\n`);
  const failures: string[] = [];
  const auth = new BasicAuth(new BcryptWorker({ module: shim, onFailure: (err) => failures.push(err.message) }));
  try {
    const users = new Map([['alice', ALICE]]);
    assert.equal(await auth.check(users, basic('alice', 'alice123')), 'unavailable');
    assert.equal(failures.length, 1);
    assert.match(failures[0], /a broken bcryptjs/);
    rmSync(marker);
    assert.equal(await auth.check(users, basic('alice', 'alice123')), 'ok', 'the failure was cached as a wrong password');
    assert.equal(await auth.check(users, basic('alice', 'wrong')), 'denied');
  } finally {
    await auth.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the worker starts whatever the working directory holds (Node 24 read ./package.json for it and died)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cwd-'));
  try {
    writeFileSync(join(dir, 'package.json'), '{ not json');
    const src = new URL('../../src/server/bcrypt-worker.ts', import.meta.url).href;
    const script = `const { BcryptWorker } = await import(${JSON.stringify(src)});
const w = new BcryptWorker({ onFailure: (e) => console.error('failure:', e.message) });
console.log(await w.compare('alice123', ${JSON.stringify(ALICE)}));
await w.close();`;
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.stdout.trim(), 'true', r.stderr);
    assert.doesNotMatch(r.stderr, /failure:/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
