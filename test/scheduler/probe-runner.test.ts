// The scheduler with real timers and small intervals. The probes here are
// plain objects whose behaviour the test controls (hang, fail, honour the
// abort); bounds on timing are loose and only prove what fired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ABORT_GRACE_MS, ProbeRunner, type RunnerHooks } from '../../src/scheduler/probe-runner.js';
import type { CommonProbeConfig } from '../../src/probes/definition.js';
import type { Probe, ProbeResult } from '../../src/probes/types.js';
import { sleep, waitUntil } from '../helpers/wait.js';

function cfg(over: Partial<CommonProbeConfig> & { everyMs?: number } = {}): CommonProbeConfig {
  const { everyMs = 200, ...rest } = over;
  return {
    name: 't', type: 'test', schedule: { kind: 'interval', everyMs }, timeoutMs: 100,
    failures_before_warning: 1, failures_before_critical: 3, successes_before_passing: 1, ...rest,
  };
}

const okResult = (): ProbeResult => ({ ok: true, durationSeconds: 0, observations: [] });
const failResult = (): ProbeResult => ({ ok: false, reason: 'status', durationSeconds: 0, observations: [] });

interface Recorder extends RunnerHooks {
  results: Array<{ r: ProbeResult; at: number }>;
  skips: boolean[];
  lateness: number[];
}
function recorder(): Recorder {
  const rec: Recorder = {
    results: [], skips: [], lateness: [],
    onResult: (r, at) => { rec.results.push({ r, at }); },
    onSkip: (stuck) => { rec.skips.push(stuck); },
    onLateness: (ms) => { rec.lateness.push(ms); },
  };
  return rec;
}

/** A probe that records each run's start and concurrency, and behaves as `body` says. */
function probe(body: (signal: AbortSignal, n: number) => Promise<ProbeResult>) {
  const starts: number[] = [];
  let running = 0;
  let maxRunning = 0;
  const p: Probe & { starts: number[]; maxRunning: () => number } = {
    name: 't', type: 'test', starts, maxRunning: () => maxRunning,
    run: async (signal) => {
      starts.push(Date.now());
      running++;
      maxRunning = Math.max(maxRunning, running);
      try { return await body(signal, starts.length); } finally { running--; }
    },
  };
  return p;
}

test('a probe that hangs and ignores the abort: never two runs at once, ticks skipped and counted, failure reported', async () => {
  let release!: () => void;
  const hung = new Promise<void>((r) => { release = r; });
  const p = probe(async (_s, n) => { if (n === 1) await hung; return okResult(); });
  const rec = recorder();
  const runner = new ProbeRunner(p, cfg({ everyMs: 150, timeoutMs: 100 }), rec);
  runner.start(() => 0);
  try {
    // The run's result comes at timeout + grace, without waiting for the probe.
    const first = await waitUntil('the hard-deadline result', () => rec.results[0], { timeoutMs: 3000 });
    assert.equal(first.r.ok, false);
    assert.equal(first.r.reason, 'timeout');
    assert.equal(first.r.message, 'did not return within timeout 100ms and ignored the abort');
    // Ticks keep coming but never start a second run while the first is out.
    await waitUntil('a stuck skip', () => rec.skips.includes(true), { timeoutMs: 3000 });
    assert.equal(p.starts.length, 1);
    assert.equal(p.maxRunning(), 1);
    assert.ok(rec.skips.length >= 5, `only ${rec.skips.length} skips`);
    // Skips after timeout + grace are "stuck", and each is reported as a failed run.
    const stuck = rec.results.filter((x) => x.r.message?.startsWith('previous run has not returned after'));
    assert.ok(stuck.length >= 1);
    assert.ok(stuck.every((x) => x.r.reason === 'timeout'));
  } finally {
    release();
  }
  // Once it returns, runs resume.
  await waitUntil('runs to resume', () => p.starts.length >= 3, { timeoutMs: 3000 });
  assert.equal(p.maxRunning(), 1);
  await runner.stop(1000);
});

test('the timeout aborts the signal: a probe honouring it returns at the timeout', async () => {
  const p = probe((signal) => new Promise((resolve) => {
    signal.addEventListener('abort', () => resolve({ ok: false, reason: 'timeout', message: 'aborted', durationSeconds: 0, observations: [] }));
  }));
  const rec = recorder();
  const runner = new ProbeRunner(p, cfg({ everyMs: 5000, timeoutMs: 250 }), rec);
  const started = Date.now();
  runner.start(() => 0);
  const first = await waitUntil('a result', () => rec.results[0], { timeoutMs: 3000 });
  const took = first.at - started;
  await runner.stop(100);
  assert.equal(first.r.message, 'aborted');
  assert.ok(took >= 240, `result after ${took} ms: before the timeout`);
  assert.ok(took < 250 + ABORT_GRACE_MS, `result after ${took} ms: the abort did not fire`);
});

test('first runs are staggered within the interval', async () => {
  const everyMs = 600;
  const firsts: number[] = [];
  const runners: ProbeRunner[] = [];
  const started = Date.now();
  for (let i = 0; i < 20; i++) {
    const p = probe(async () => { if (firsts.length < 20) firsts.push(Date.now() - started); return okResult(); });
    const r = new ProbeRunner(p, cfg({ everyMs, timeoutMs: 100 }), recorder());
    r.start();
    runners.push(r);
  }
  await waitUntil('every first run', () => firsts.length >= 20, { timeoutMs: 3000 });
  await Promise.all(runners.map((r) => r.stop(100)));
  assert.ok(Math.max(...firsts) < everyMs + 100, `a first run at ${Math.max(...firsts)} ms, past the interval`);
  // Spread out, not all at once: 20 uniform draws over 600 ms span well over 100 ms.
  assert.ok(Math.max(...firsts) - Math.min(...firsts) > 100, `first runs at ${firsts.join(', ')}`);
});

test('the stagger uses the random source: 0.5 of a 400 ms interval is ~200 ms', async () => {
  const p = probe(async () => okResult());
  const runner = new ProbeRunner(p, cfg({ everyMs: 400 }), recorder());
  const started = Date.now();
  runner.start(() => 0.5);
  await waitUntil('the first run', () => p.starts.length >= 1, { timeoutMs: 2000 });
  await runner.stop(100);
  const at = p.starts[0] - started;
  assert.ok(at >= 190 && at < 350, `first run at ${at} ms`);
});

test('runs keep to the interval', async () => {
  const p = probe(async () => okResult());
  const runner = new ProbeRunner(p, cfg({ everyMs: 100, timeoutMs: 50 }), recorder());
  runner.start(() => 0);
  await sleep(1050);
  await runner.stop(100);
  assert.ok(p.starts.length >= 9 && p.starts.length <= 12, `${p.starts.length} runs in 1.05 s at 100 ms`);
});

test('interval_when_failing: the very next run after a failure comes at the faster interval, and the slow one returns on success', async () => {
  let failing = false;
  const p = probe(async () => (failing ? failResult() : okResult()));
  const rec = recorder();
  const runner = new ProbeRunner(p, cfg({ everyMs: 1000, timeoutMs: 50, intervalWhenFailingMs: 100 }), rec);
  runner.start(() => 0);
  await waitUntil('first run', () => p.starts.length >= 1, { timeoutMs: 2000 });
  failing = true;
  await waitUntil('the second (failing) run', () => p.starts.length >= 2, { timeoutMs: 2000 });
  // Failing now: the next runs come every 100 ms.
  await waitUntil('the third run', () => p.starts.length >= 3, { timeoutMs: 2000 });
  const gap = p.starts[2] - p.starts[1];
  assert.ok(gap < 400, `first retry after a failure came ${gap} ms later, not at interval_when_failing`);
  await waitUntil('more fast runs', () => p.starts.length >= 6, { timeoutMs: 2000 });
  failing = false;
  const n = p.starts.length;
  await sleep(700);
  // Back to passing: at most the one fast run that was already planned.
  assert.ok(p.starts.length - n <= 2, `${p.starts.length - n} runs in 700 ms after recovering`);
  await runner.stop(100);
});

test('lateness is reported; a blocked event loop does not cause a burst of catch-up runs', async () => {
  const p = probe(async () => okResult());
  const rec = recorder();
  const runner = new ProbeRunner(p, cfg({ everyMs: 100, timeoutMs: 50 }), rec);
  runner.start(() => 0);
  await waitUntil('first run', () => p.starts.length >= 1, { timeoutMs: 2000 });
  const before = p.starts.length;
  const until = Date.now() + 550;
  while (Date.now() < until) { /* block the loop: ~5 slots are missed */ }
  await sleep(120);
  assert.ok(Math.max(...rec.lateness) >= 300, `max lateness ${Math.max(...rec.lateness)} ms`);
  assert.ok(p.starts.length - before <= 3, `${p.starts.length - before} runs right after the stall: a burst`);
  await runner.stop(100);
});

test('cron schedule: runs on the expression', async () => {
  const p = probe(async () => okResult());
  const rec = recorder();
  const runner = new ProbeRunner(p, cfg({ schedule: { kind: 'cron', expr: '* * * * * *' }, timeoutMs: 500 }), rec);
  runner.start();
  await waitUntil('two cron runs', () => p.starts.length >= 2, { timeoutMs: 3500 });
  await runner.stop(100);
  const gap = p.starts[1] - p.starts[0];
  assert.ok(gap > 700 && gap < 1300, `cron runs ${gap} ms apart`);
  assert.equal(rec.results.length >= 2, true);
  const n = p.starts.length;
  await sleep(1200);
  assert.equal(p.starts.length, n, 'ran after stop');
});

test('stop waits for the in-flight run (bounded), and stops scheduling', async () => {
  const p = probe(() => sleep(300).then(okResult));
  const runner = new ProbeRunner(p, cfg({ everyMs: 1000, timeoutMs: 800 }), recorder());
  runner.start(() => 0);
  await waitUntil('a run', () => p.starts.length >= 1, { timeoutMs: 2000 });
  let t = Date.now();
  await runner.stop(5000);
  const waited = Date.now() - t;
  assert.ok(waited >= 200 && waited < 1000, `stop returned after ${waited} ms`);

  const hung = probe(() => new Promise(() => undefined));
  const r2 = new ProbeRunner(hung, cfg({ everyMs: 1000, timeoutMs: 800 }), recorder());
  r2.start(() => 0);
  await waitUntil('a run', () => hung.starts.length >= 1, { timeoutMs: 2000 });
  t = Date.now();
  await r2.stop(200);
  const bounded = Date.now() - t;
  assert.ok(bounded >= 180 && bounded < 600, `stop of a hung run returned after ${bounded} ms`);
});

test('a probe that throws is a failed result, not a crash', async () => {
  const p = probe(async () => { throw new Error('kaput'); });
  const rec = recorder();
  const runner = new ProbeRunner(p, cfg({ everyMs: 5000 }), rec);
  runner.start(() => 0);
  const r = await waitUntil('a result', () => rec.results[0], { timeoutMs: 2000 });
  await runner.stop(100);
  assert.equal(r.r.ok, false);
  assert.equal(r.r.reason, 'internal');
  assert.equal(r.r.message, 'probe threw: kaput');
});

test('a reused abort signal never carries a listener or an abort over from an earlier run', async () => {
  const signals: AbortSignal[] = [];
  const leftOver: number[] = [];
  // Run 1 leaves a listener behind; run 2 is clean; run 3 hangs until aborted; run 4 must see a fresh signal.
  const p = probe(async (signal, n) => {
    signals.push(signal);
    assert.equal(signal.aborted, false, `run ${n} was handed an aborted signal`);
    if (n === 1) signal.addEventListener('abort', () => leftOver.push(n));
    if (n === 3) await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    return okResult();
  });
  const runner = new ProbeRunner(p, cfg({ everyMs: 150, timeoutMs: 60 }), recorder());
  runner.start(() => 0);
  await waitUntil('four runs', () => p.starts.length >= 4, { timeoutMs: 3000 });
  await runner.stop(100);
  // Run 3's timeout fired on its own signal, not on the one run 1 left a listener on.
  assert.deepEqual(leftOver, []);
  assert.notEqual(signals[1], signals[0], 'a signal with a listener left on it was handed on');
  assert.equal(signals[2], signals[1], 'a clean, unaborted signal is reused');
  assert.equal(signals[2].aborted, true);
  assert.notEqual(signals[3], signals[2], 'an aborted signal was handed on');
});
