// The journal against an unlucky disk and a hostile file: a short write on a
// nearly full filesystem is a failed append (never a journalled intent), and a
// record that does not have the shape of its event is skipped and reported,
// never a crash at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Journal, JOURNAL_FILE } from '../../src/remediation/journal.js';
import { parseJournal, type JournalProblem, type JournalRecord } from '../../src/remediation/journal-format.js';
import { mountTmpfs } from '../helpers/mounts.js';

const keepAll = (r: readonly JournalRecord[]) => [...r];
const intent = (id: string, target = 'api.service') => ({
  event: 'intent' as const, id, rule: 'restart-api', action: 'systemd_restart', target, scope: 'host' as const, probe: 'api', reason: 'status', forced: false,
});

test('a short write on a nearly full disk fails the append and leaves no torn line behind', async () => {
  // tmpfs allocates whole 4 KiB pages: a journal that ends 60 bytes short of a
  // page boundary, with every other page taken, can take 60 more bytes only.
  const m = mountTmpfs('size=64k,mode=700');
  try {
    const problems: JournalProblem[] = [];
    const T = 1_700_000_000_000;
    const j = new Journal({ dir: m.path, maxBytes: 1 << 20, keep: keepAll, onProblem: (p) => problems.push(p), now: () => T });
    await j.open();
    let size = 0;
    while (size < 4096 - 600) size = (await j.append(intent(`pad-${size}`)), j.sizeBytes);
    // Pad the journal to 60 bytes short of its page with one record of the right length.
    const target = 4096 - 60;
    const probe = JSON.stringify({ v: 1, time: new Date(T).toISOString(), ts: T, ...intent('fill', '') }).length + 1;
    await j.append(intent('fill', 'x'.repeat(target - size - probe)));
    assert.equal(j.sizeBytes, target, 'journal padded to 60 bytes short of its page');
    for (let i = 0; ; i++) { try { m.fill(`ballast-${i}`, 4096); } catch { break; } }
    await assert.rejects(j.append(intent('the-one', 'y'.repeat(200))), /short write|ENOSPC|no space/i, 'a line that did not fit is not journalled');
    assert.ok(problems.some((p) => p.kind === 'write_failed'), 'and reported');
    await j.close();
    const text = await readFile(join(m.path, JOURNAL_FILE), 'utf8');
    assert.equal(Buffer.byteLength(text), target, 'the partial line was cut off again');
    assert.equal(parseJournal(text, Date.now()).problems.length, 0, 'no torn line left for the next start to find');
    assert.equal(text.includes('the-one'), false);
  } finally {
    m.cleanup();
  }
});

test('records without the fields of their event are skipped and reported, not a crash', async () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  const base = { v: 1, time: new Date(now).toISOString(), ts: now };
  const lines = [
    { ...base, ...intent('a') },
    { ...base, event: 'outcome', id: 'a', rule: 'restart-api', action: 'systemd_restart', detail: 'no outcome field' },
    { ...base, event: 'outcome', id: 'a', rule: 'restart-api', action: 'systemd_restart', outcome: 'exploded', detail: 'x' },
    { ...base, event: 'intent', id: 'b', rule: 'restart-api' },
    { ...base, event: 'pause', note: 42 },
    { ...base, event: 'cluster_write', cluster: 'orders', kind: 'fence', outcome: 'done' },
    { ...base, event: 'breaker_reset', rule: 'restart-api', ts: 'soon' },
  ].map((l) => JSON.stringify(l)).join('\n') + '\n';
  const parsed = parseJournal(lines, now);
  assert.deepEqual(parsed.records.map((r) => r.event), ['intent']);
  assert.equal(parsed.problems.length, 6);
  assert.ok(parsed.problems.every((p) => p.kind === 'corrupt_line'));
  assert.match(parsed.problems[0].detail, /line 2: outcome record without a valid outcome/);
});

test('a record stamped far in the future is not believed (it would block a rule until then)', async () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  const future = Date.parse('2286-01-01T00:00:00Z');
  const text = `${JSON.stringify({ v: 1, time: new Date(future).toISOString(), ts: future, ...intent('f') })}\n`;
  const parsed = parseJournal(text, now);
  assert.equal(parsed.records.length, 0);
  assert.equal(parsed.problems[0].kind, 'implausible_time');
  assert.match(parsed.problems[0].detail, /stamped 2286-01-01T00:00:00\.000Z, which is more than 1 day ahead of this host.s clock/);
});

test('planted symlinks in state_dir are never followed; a state_dir others can write is refused', async () => {
  const { mkdtemp, rm, symlink, chmod, mkdir, lstat } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const base = await mkdtemp(join(tmpdir(), 'vigil-planted-'));
  try {
    const victim = join(base, 'victim');
    await writeFile(victim, 'precious line one\nprecious line two without newline');
    // 1. The journal itself is a link to someone else's file: refused, the file untouched.
    const d1 = join(base, 's1');
    await mkdir(d1, { mode: 0o700 });
    await symlink(victim, join(d1, JOURNAL_FILE));
    await assert.rejects(new Journal({ dir: d1, maxBytes: 1 << 20, keep: keepAll }).open(), /is a symbolic link/);
    assert.equal(await readFile(victim, 'utf8'), 'precious line one\nprecious line two without newline');
    // 2. The compaction's temporary file is a planted link: the link is replaced, its target untouched.
    const d2 = join(base, 's2');
    await mkdir(d2, { mode: 0o700 });
    await symlink(victim, join(d2, `${JOURNAL_FILE}.tmp`));
    const j = new Journal({ dir: d2, maxBytes: 600, keep: keepAll });
    await j.open();
    for (let i = 0; i < 6; i++) await j.append(intent(`c${i}`));
    assert.ok(j.rotations >= 1, 'compacted');
    await j.close();
    assert.equal(await readFile(victim, 'utf8'), 'precious line one\nprecious line two without newline');
    assert.equal((await lstat(join(d2, JOURNAL_FILE))).isSymbolicLink(), false, 'the journal is a regular file');
    // 3. A world-writable state_dir, and a state_dir that is a link: refused with what to do.
    const d3 = join(base, 's3');
    await mkdir(d3);
    await chmod(d3, 0o777);
    await assert.rejects(new Journal({ dir: d3, maxBytes: 1 << 20, keep: keepAll }).open(), /writable by everyone \(mode 777\).*chmod 700/);
    const d4 = join(base, 's4');
    await symlink(d2, d4);
    await assert.rejects(new Journal({ dir: d4, maxBytes: 1 << 20, keep: keepAll }).open(), /is a symbolic link; point agent\.state_dir at the real directory/);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('an outcome without its intent is reported, not silently used or dropped', async () => {
  const { replay } = await import('../../src/remediation/replay.js');
  const now = Date.parse('2026-06-01T00:00:00Z');
  const rec = (o: Record<string, unknown>) => ({ v: 1, time: new Date(now).toISOString(), ts: now, ...o }) as unknown as JournalRecord;
  const r = replay([
    rec({ ...intent('a') }),
    rec({ event: 'outcome', id: 'a', rule: 'restart-api', action: 'systemd_restart', outcome: 'succeeded', detail: 'ok' }),
    rec({ event: 'outcome', id: 'ghost', rule: 'restart-api', action: 'systemd_restart', outcome: 'succeeded', detail: 'forged' }),
  ]);
  assert.deepEqual(r.orphans, [{ id: 'ghost', rule: 'restart-api' }]);
  assert.equal(r.states.get('restart-api')?.actions.length, 1, 'the orphan is not an action');
});
