// Disk probe on a real 4 MiB tmpfs mounted by the test: fill it past the
// threshold, remount it read-only, run out of inodes; a hung mount (held
// single-flight entry, and a really frozen ext4) must not starve the agent.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProbe, observation } from '../helpers/probe.js';
import { mountFreezableExt4, mountTmpfs, type FreezableMount, type TestMount } from '../helpers/mounts.js';
import { SingleFlight } from '../../src/probes/single-flight.js';
import { formatSize } from '../../src/config/durations.js';

const MiB = 1024 * 1024;

describe('on a 4 MiB tmpfs', () => {
  let m: TestMount;
  before(() => { m = mountTmpfs('size=4m,nr_inodes=64'); });
  after(() => m.cleanup());
  afterEach(() => {
    m.remount('rw');
    for (const f of readdirSync(m.path)) rmSync(join(m.path, f), { recursive: true, force: true });
  });

  test('an empty filesystem passes and reports size, avail, inodes and read-only', async () => {
    const r = await buildProbe({ type: 'disk', path: m.path, min_avail_bytes: '1MiB' }).run();
    assert.equal(r.ok, true, r.message);
    const labels = { path: m.path };
    assert.equal(observation(r, 'disk_size_bytes', labels), 4 * MiB);
    assert.equal(observation(r, 'disk_avail_bytes', labels), 4 * MiB);
    assert.equal(observation(r, 'disk_readonly', labels), 0);
    const inodes = observation(r, 'disk_inodes_free_ratio', labels)!;
    assert.ok(inodes > 0.9 && inodes <= 1, `inodes free ratio ${inodes}`);
    assert.equal(r.message, `${m.path}: ${4 * MiB} bytes (4 MiB) of ${4 * MiB} bytes (4 MiB) available (100.0%)`);
  });

  test('filled past min_avail_bytes: fails with reason threshold', async () => {
    m.fill('ballast', 3 * MiB);
    const r = await buildProbe({ type: 'disk', path: m.path, min_avail_bytes: '2MiB' }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'threshold');
    const avail = observation(r, 'disk_avail_bytes', { path: m.path })!;
    assert.equal(avail, 1 * MiB);
    assert.equal(r.message, `${m.path}: ${avail} bytes (${formatSize(avail)}) available, below min_avail_bytes ${2 * MiB} bytes (2 MiB)`);
    assert.match(formatSize(avail), /^[\d.]+ (KiB|MiB)$/);
  });

  test('filled past min_avail_ratio: fails with reason threshold', async () => {
    m.fill('ballast', 3 * MiB);
    const ok = await buildProbe({ type: 'disk', path: m.path, min_avail_ratio: 0.2 }).run();
    assert.equal(ok.ok, true, ok.message);
    const r = await buildProbe({ type: 'disk', path: m.path, min_avail_ratio: 0.3 }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'threshold');
    assert.equal(r.message, `${m.path}: 25.0% available, below min_avail_ratio 0.3`);
  });

  test('out of inodes: min_inodes_free_ratio fails', async () => {
    for (let i = 0; i < 40; i++) writeFileSync(join(m.path, `f${i}`), '');
    const r = await buildProbe({ type: 'disk', path: m.path, min_inodes_free_ratio: 0.5 }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'threshold');
    assert.ok(observation(r, 'disk_inodes_free_ratio', { path: m.path })! < 0.5);
  });

  test('remounted read-only: fails with reason readonly; fail_if_readonly: false passes but reports it', async () => {
    m.remount('ro');
    const r = await buildProbe({ type: 'disk', path: m.path }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'readonly');
    assert.equal(r.message, `${m.path} is mounted read-only`);
    assert.equal(observation(r, 'disk_readonly', { path: m.path }), 1);
    const tolerant = await buildProbe({ type: 'disk', path: m.path, fail_if_readonly: false }).run();
    assert.equal(tolerant.ok, true, tolerant.message);
    assert.equal(observation(tolerant, 'disk_readonly', { path: m.path }), 1);
  });

  test('a subdirectory is judged by the mount that holds it', async () => {
    mkdirSync(join(m.path, 'sub'));
    m.remount('ro');
    const r = await buildProbe({ type: 'disk', path: join(m.path, 'sub') }).run();
    assert.equal(r.reason, 'readonly');
    assert.equal(r.message, `${m.path} is mounted read-only`);
  });

  test('write_test: passes and leaves nothing behind', async () => {
    const r = await buildProbe({ type: 'disk', path: m.path, write_test: true }).run();
    assert.equal(r.ok, true, r.message);
    assert.deepEqual(readdirSync(m.path), []);
  });

  test('write_test on a read-only mount (not failing on the flag): reason readonly from EROFS', async () => {
    m.remount('ro');
    const r = await buildProbe({ type: 'disk', path: m.path, write_test: true, fail_if_readonly: false }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'readonly');
    assert.equal(r.message, `write test in ${m.path} failed: EROFS`);
  });

  test('write_test on a full filesystem: reason io_error (ENOSPC)', async () => {
    assert.throws(() => m.fill('ballast', 5 * MiB), /ENOSPC/);
    const r = await buildProbe({ type: 'disk', path: m.path, write_test: true }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'io_error');
    assert.equal(r.message, `write test in ${m.path} failed: ENOSPC`);
    assert.deepEqual(readdirSync(m.path), ['ballast']);
  });
});



test('a path that does not exist: reason io_error', async () => {
  const r = await buildProbe({ type: 'disk', path: '/nonexistent/vigil/path' }).run();
  assert.equal(r.ok, false);
  assert.equal(r.reason, 'io_error');
  assert.match(r.message ?? '', /^\/nonexistent\/vigil\/path: ENOENT /);
});

describe('a hung mount does not starve the agent', () => {
  test('an outstanding call past the timeout fails the probe at once, and the path is not queried again until it returns', async () => {
    const sf = new SingleFlight();
    const path = '/';
    let release!: () => void;
    // A statfs stuck for 10 s already, as on a dead NFS mount.
    const stuck = sf.run(`disk:${path}`, () => new Promise<void>((r) => { release = r; }), Date.now() - 10_000);
    const p = buildProbe({ type: 'disk', path, interval: '10s', timeout: '2s' }, { singleFlight: sf });
    const started = performance.now();
    const r = await p.run();
    const took = performance.now() - started;
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'timeout');
    assert.match(r.message ?? '', /^a filesystem call on \/ has not returned for 10s\d*m?s?; not querying it again until it does$/);
    assert.ok(took < 200, `took ${took.toFixed(0)} ms: it should fail at once`);
    assert.equal(sf.size(), 1);
    release();
    await stuck;
    assert.equal(sf.size(), 0);
    const again = await p.run();
    assert.equal(again.ok, true, again.message);
  });

  test('a younger outstanding call (another probe of the same path) is waited for, never a spurious timeout', async () => {
    const sf = new SingleFlight();
    let release!: () => void;
    const other = sf.run('disk:/', () => new Promise<void>((r) => { release = r; }));
    const p = buildProbe({ type: 'disk', path: '/', interval: '10s', timeout: '2s' }, { singleFlight: sf });
    const pending = p.run();
    setTimeout(() => release(), 100);
    const r = await pending;
    await other;
    assert.equal(r.ok, true, r.message);
    // Still never more than one call at a time on the path.
    assert.equal(sf.size(), 0);
  });

  test('a younger outstanding call that outlives our timeout fails this run with timeout', async () => {
    const sf = new SingleFlight();
    let release!: () => void;
    const other = sf.run('disk:/', () => new Promise<void>((r) => { release = r; }));
    const started = performance.now();
    const r = await buildProbe({ type: 'disk', path: '/', interval: '10s', timeout: '300ms' }, { singleFlight: sf }).run();
    const took = performance.now() - started;
    release();
    await other;
    assert.equal(r.reason, 'timeout');
    assert.equal(r.message, 'a filesystem call on / did not return within 300ms');
    assert.ok(took >= 280 && took < 1300, `took ${took.toFixed(0)} ms`);
  });

  test('two probes of the same path that run together both get a real answer', async () => {
    const sf = new SingleFlight();
    const a = buildProbe({ type: 'disk', path: '/' }, { singleFlight: sf });
    const b = buildProbe({ type: 'disk', path: '/', min_avail_bytes: 1 }, { singleFlight: sf });
    const [ra, rb] = await Promise.all([a.run(), b.run()]);
    assert.equal(ra.ok, true, ra.message);
    assert.equal(rb.ok, true, rb.message);
  });

  describe('on a really frozen ext4 (fsfreeze)', () => {
    let m: FreezableMount;
    before(() => { m = mountFreezableExt4(); });
    after(() => m.cleanup());

    test('write_test hangs: timeout honoured, the next run fails at once, and the probe recovers after thaw', async () => {
      const sf = new SingleFlight();
      const p = buildProbe({ type: 'disk', path: m.path, write_test: true, interval: '5s', timeout: '500ms' }, { singleFlight: sf });
      assert.equal((await p.run()).ok, true);
      m.freeze();
      try {
        let started = performance.now();
        const r1 = await p.run();
        let took = performance.now() - started;
        assert.equal(r1.reason, 'timeout', r1.message);
        assert.equal(r1.message, `statfs of ${m.path} did not return within 500ms`);
        assert.ok(took >= 480 && took < 1500, `first run took ${took.toFixed(0)} ms`);
        assert.equal(sf.size(), 1, 'the hung call is still outstanding');

        await new Promise((r) => setTimeout(r, 50)); // the hung call is now clearly older than the timeout
        started = performance.now();
        const r2 = await p.run();
        took = performance.now() - started;
        assert.equal(r2.reason, 'timeout');
        assert.match(r2.message ?? '', /has not returned for .*; not querying it again until it does$/);
        assert.ok(took < 200, `second run took ${took.toFixed(0)} ms: it must not wait for the mount again`);
      } finally {
        m.thaw();
      }
      // The hung write completes after the thaw; then the path is queried again.
      const deadline = Date.now() + 5000;
      while (sf.size() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(sf.size(), 0);
      const r3 = await p.run();
      assert.equal(r3.ok, true, r3.message);
      assert.equal(existsSync(join(m.path, `.vigil-write-test-${process.pid}`)), false);
    });
  });
});
