// The journal on a real filesystem: append + reopen, a torn last line
// (power loss) tolerated, reported and cut off, corrupt lines skipped,
// compaction bounded and lossless for replay; and replay itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, JOURNAL_FILE } from '../../src/remediation/journal.js';
import { keepForReplay, replay } from '../../src/remediation/replay.js';
import type { JournalProblem, JournalRecord } from '../../src/remediation/journal-format.js';
import { breaker, lastAction } from '../../src/remediation/rule-state.js';
import type { RuleSpec } from '../../src/remediation/types.js';

const keepAll = (r: readonly JournalRecord[]) => [...r];

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-journal-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

const intent = (id: string, rule = 'restart-api') => ({
  event: 'intent' as const, id, rule, action: 'systemd_restart', target: 'api.service', scope: 'host' as const, probe: 'api', reason: 'status', forced: false,
});
const outcome = (id: string, o: 'succeeded' | 'failed' = 'succeeded', rule = 'restart-api') => ({
  event: 'outcome' as const, id, rule, action: 'systemd_restart', outcome: o, detail: 'job done',
});

test('records are appended as JSON lines and read back after reopening', async () => withDir(async (dir) => {
  let now = 1_000_000;
  const j = new Journal({ dir: join(dir, 'state'), maxBytes: 1 << 20, keep: keepAll, now: () => now });
  assert.deepEqual(await j.open(), []);
  await j.append(intent('a'));
  now += 500;
  await j.append(outcome('a'));
  await j.close();
  const text = await readFile(join(dir, 'state', JOURNAL_FILE), 'utf8');
  const lines = text.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.deepEqual({ ...lines[0] }, { v: 1, time: new Date(1_000_000).toISOString(), ts: 1_000_000, ...intent('a') });
  assert.equal(lines[1].ts, 1_000_500);
  assert.equal((await stat(join(dir, 'state'))).mode & 0o777, 0o700);
  assert.equal((await stat(join(dir, 'state', JOURNAL_FILE))).mode & 0o777, 0o600);
  const again = new Journal({ dir: join(dir, 'state'), maxBytes: 1 << 20, keep: keepAll });
  const recs = await again.open();
  assert.deepEqual(recs.map((r) => r.event), ['intent', 'outcome']);
  await again.close();
}));

test('a torn last line is tolerated, reported, and cut off so appending goes on cleanly', async () => withDir(async (dir) => {
  const j = new Journal({ dir, maxBytes: 1 << 20, keep: keepAll });
  await j.open();
  await j.append(intent('a'));
  await j.close();
  const file = join(dir, JOURNAL_FILE);
  const good = await readFile(file, 'utf8');
  await appendFile(file, '{"v":1,"time":"2024-05-01T10:00:00.000Z","ts":17145576000'); // power loss mid-write
  const problems: JournalProblem[] = [];
  const j2 = new Journal({ dir, maxBytes: 1 << 20, keep: keepAll, onProblem: (p) => problems.push(p) });
  const recs = await j2.open();
  assert.deepEqual(recs.map((r) => r.event), ['intent']);
  assert.equal(problems.length, 1);
  assert.equal(problems[0].kind, 'torn_line');
  assert.equal(problems[0].line, 2);
  assert.equal(await readFile(file, 'utf8'), good, 'the torn bytes are gone');
  await j2.append(outcome('a'));
  await j2.close();
  const lines = (await readFile(file, 'utf8')).trim().split('\n');
  assert.deepEqual(lines.map((l) => JSON.parse(l).event), ['intent', 'outcome']);
  assert.deepEqual(j2.problems.map((p) => p.kind), ['torn_line'], 'kept for /status');
}));

test('a complete last record missing only its newline is kept; a corrupt middle line is skipped and reported', async () => withDir(async (dir) => {
  const file = join(dir, JOURNAL_FILE);
  const rec = (id: string) => JSON.stringify({ v: 1, time: 't', ts: 1, ...intent(id) });
  await writeFile(file, `${rec('a')}\nnot json at all\n${rec('b')}`);
  const problems: JournalProblem[] = [];
  const j = new Journal({ dir, maxBytes: 1 << 20, keep: keepAll, onProblem: (p) => problems.push(p) });
  const recs = await j.open();
  assert.deepEqual(recs.map((r) => (r as { id: string }).id), ['a', 'b']);
  assert.deepEqual(problems.map((p) => [p.kind, p.line]), [['corrupt_line', 2]]);
  await j.append(outcome('b'));
  await j.close();
  const lines = (await readFile(file, 'utf8')).split('\n');
  assert.equal(lines.length, 5, 'three old lines, the new one, and the final newline');
  assert.equal(JSON.parse(lines[3]).event, 'outcome');
}));

test('compaction keeps the journal bounded, keeps .1, and replays to the same state', async () => withDir(async (dir) => {
  let now = Date.parse('2024-05-01T00:00:00Z');
  const spec: RuleSpec = {
    name: 'restart-api', actionType: 'systemd_restart', trigger: ['api'], probes: ['api'], needed: { api: 3 },
    cooldownMs: 60_000, graceMs: 0, maxActions: 3, windowMs: 3600_000, precheckRetryMs: 0,
  };
  const retention = () => 2 * spec.windowMs;
  const all: JournalRecord[] = [];
  const j = new Journal({ dir, maxBytes: 8 * 1024, now: () => now, keep: (r, n) => keepForReplay(r, n, retention) });
  await j.open();
  await j.append({ event: 'pause', note: 'incident 42' });
  await j.append({ event: 'resume' });
  for (let i = 0; i < 300; i++) {
    all.push(await j.append(intent(`a${i}`)));
    now += 1000;
    all.push(await j.append(outcome(`a${i}`, i % 3 ? 'succeeded' : 'failed')));
    now += 10 * 60_000; // one action every ~10 minutes
  }
  all.push(await j.append(intent('open'))); // an intent that never got its outcome
  const size = (await stat(join(dir, JOURNAL_FILE))).size;
  assert.ok(j.rotations >= 1, 'compacted at least once');
  assert.ok(size <= 8 * 1024 + 1024, `journal is ${size} bytes`);
  assert.ok((await stat(join(dir, `${JOURNAL_FILE}.1`))).size > 0, 'previous generation kept');
  await j.close();
  const reread = new Journal({ dir, maxBytes: 8 * 1024, keep: keepAll });
  const compacted = replay(await reread.open());
  await reread.close();
  const full = replay(all);
  const a = compacted.states.get('restart-api')!;
  const b = full.states.get('restart-api')!;
  assert.deepEqual(breaker(a, spec, now, false), breaker(b, spec, now, false));
  assert.deepEqual(lastAction(a, false), lastAction(b, false));
  assert.deepEqual(compacted.pending.map((p) => p.id), ['open']);
  assert.equal(compacted.pause.paused, false);
}));

test('replay: intents, outcomes, reconciled outcomes count from the intent, resets, pause', () => {
  const base = (ts: number) => ({ v: 1, time: new Date(ts).toISOString(), ts });
  const recs = [
    { ...base(1000), ...intent('a') },
    { ...base(2000), ...outcome('a') },
    { ...base(3000), ...intent('b') },
    { ...base(9000), event: 'outcome', id: 'b', rule: 'restart-api', action: 'systemd_restart', outcome: 'reconciled_succeeded', detail: 'x' },
    { ...base(9500), event: 'dry_run', id: 'd', rule: 'leave-asg', action: 'asg_set_unhealthy', target: 't', probe: 'api', reason: 'status', detail: 'would' },
    { ...base(10000), event: 'breaker_reset', rule: 'restart-api' },
    { ...base(11000), ...intent('c', 'other') },
    { ...base(12000), event: 'pause', note: 'db work' },
  ] as JournalRecord[];
  const r = replay(recs);
  const s = r.states.get('restart-api')!;
  assert.deepEqual(s.actions.map((a) => [a.id, a.startedAt, a.completedAt, a.outcome]), [['a', 1000, 2000, 'succeeded'], ['b', 3000, 3000, 'reconciled_succeeded']]);
  assert.equal(s.breakerResetAt, 10000);
  assert.deepEqual(r.states.get('leave-asg')!.actions.map((a) => [a.dryRun, a.outcome]), [[true, 'dry_run']]);
  assert.deepEqual(r.pending, [{ id: 'c', rule: 'other', action: 'systemd_restart', target: 'api.service', at: 11000 }]);
  assert.deepEqual(r.pause, { paused: true, since: 12000, note: 'db work' });
});
