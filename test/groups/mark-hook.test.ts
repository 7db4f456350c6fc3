// mark-hook.sh, run with the real sh as an agent would run it: one start and
// one end line per run in the format marks.ts parses, the simulated work, the
// fail switch, and a "killed" mark when the hook's timeout sends SIGTERM.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMarks } from './marks.js';

const HOOK = fileURLToPath(new URL('./mark-hook.sh', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigil-mark-hook-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const env = (member: string, role: string, extra: Record<string, string> = {}) =>
  ({ ...process.env, VIGIL_GROUP: 'web', VIGIL_MEMBER: member, VIGIL_ROLE: role, VIGIL_FENCING_TOKEN: '42', VIGIL_CAUSE: 'lease acquired', ...extra });

function run(marks: string, args: string[], e: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => execFile('sh', [HOOK, marks, ...args], { env: e }, (err) => resolve(err ? Number(err.code) : 0)));
}

test('a run writes start and end with member, role, token and cause', async () => {
  const marks = join(dir, `m${++n}`);
  const t0 = Date.now();
  assert.equal(await run(marks, [], env('g1', 'active')), 0);
  const [s, e] = await readMarks(marks);
  assert.deepEqual({ ...s, at: 0 }, { at: 0, member: 'g1', role: 'active', phase: 'start', token: '42', cause: 'lease acquired', line: 1 });
  assert.equal(e.phase, 'end');
  assert.ok(s.at >= t0 - 5 && e.at <= Date.now() + 5, 'ms timestamps from the same clock');
});

test('simulated work: the argument, MARK_SLEEP_MS over it, the per-member file over both', async () => {
  const marks = join(dir, `m${++n}`);
  await run(marks, ['150'], env('g1', 'active'));
  await run(marks, ['5000'], env('g2', 'active', { MARK_SLEEP_MS: '150' }));
  writeFileSync(`${marks}.sleep.g3.standby`, '150');
  await run(marks, ['5000'], env('g3', 'standby', { MARK_SLEEP_MS: '5000' }));
  const m = await readMarks(marks);
  for (let i = 0; i < 6; i += 2) {
    const took = m[i + 1].at - m[i].at;
    assert.ok(took >= 150 && took < 1500, `${m[i].member}'s hook took ${took} ms, wanted ~150`);
  }
});

test('the fail file makes that member\'s hook of that role write "fail" and exit 1; others are unaffected', async () => {
  const marks = join(dir, `m${++n}`);
  writeFileSync(`${marks}.fail.g2.active`, '');
  assert.equal(await run(marks, [], env('g2', 'active')), 1);
  assert.equal(await run(marks, [], env('g2', 'standby')), 0);
  assert.equal(await run(marks, [], env('g1', 'active')), 0);
  assert.deepEqual((await readMarks(marks)).map((m) => `${m.member} ${m.role} ${m.phase}`),
    ['g2 active start', 'g2 active fail', 'g2 standby start', 'g2 standby end', 'g1 active start', 'g1 active end']);
});

test('SIGTERM during the work writes "killed" at once and exits 143', async () => {
  const marks = join(dir, `m${++n}`);
  const child = spawn('sh', [HOOK, marks, '10000'], { env: env('g1', 'standby', { VIGIL_CAUSE: 'lease lost' }) });
  const t0 = Date.now();
  while ((await readMarks(marks)).length === 0) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 143);
  assert.ok(Date.now() - t0 < 3000, 'did not wait for the sleep');
  assert.deepEqual((await readMarks(marks)).map((m) => m.phase), ['start', 'killed']);
});

test('variables the agent left unset are written as "-" and parse as undefined', async () => {
  const marks = join(dir, `m${++n}`);
  const e: NodeJS.ProcessEnv = env('g1', 'standby');
  delete e.VIGIL_FENCING_TOKEN;
  delete e.VIGIL_CAUSE;
  await run(marks, [], e);
  const [s] = await readMarks(marks);
  assert.equal(s.token, undefined);
  assert.equal(s.cause, undefined);
});
