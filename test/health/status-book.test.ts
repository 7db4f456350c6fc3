// The status book: failures are kept longer than successes in the history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HISTORY_FAILURES, HISTORY_SUCCESSES, StatusBook } from '../../src/health/status-book.js';

const t = { failures_before_warning: 1, failures_before_critical: 3, successes_before_passing: 1 };
const result = (ok: boolean) => ({ ok, reason: ok ? undefined : 'timeout' as const, message: ok ? 'fine' : 'slow', durationSeconds: 0.001, observations: [] });

test('history keeps more failures than successes, newest last', () => {
  assert.ok(HISTORY_FAILURES > HISTORY_SUCCESSES);
  const book = new StatusBook();
  book.ensure('p', 'http', t);
  let at = 1_700_000_000_000;
  for (let i = 0; i < HISTORY_FAILURES + 5; i++) book.record('p', result(false), at++);
  for (let i = 0; i < HISTORY_SUCCESSES * 3; i++) book.record('p', result(true), at++);
  const p = book.get('p')!;
  assert.equal(p.failures.length, HISTORY_FAILURES);
  assert.equal(p.successes.length, HISTORY_SUCCESSES);
  assert.equal(p.lastResult?.ok, true);
  assert.equal(p.failures.at(-1)!.time, new Date(1_700_000_000_000 + HISTORY_FAILURES + 4).toISOString());
});

test('record returns from/to health, and reload (ensure) keeps health and history', () => {
  const book = new StatusBook();
  book.ensure('p', 'tcp', t);
  const c1 = book.record('p', result(false), 1)!;
  assert.equal(c1.from.state, 'unknown');
  assert.equal(c1.to.state, 'warning');
  book.ensure('p', 'tcp', { ...t, failures_before_critical: 2 });
  const c2 = book.record('p', result(false), 2)!;
  assert.equal(c2.to.state, 'critical');
  assert.deepEqual(book.critical(), ['p']);
  assert.equal(book.get('p')!.failures.length, 2);
  // A type change is a new probe: fresh health.
  book.ensure('p', 'http', t);
  assert.equal(book.get('p')!.health.state, 'unknown');
  assert.equal(book.record('nope', result(true), 3), undefined);
});
