// exec with real processes: exit code decides, VIGIL_* environment, no shell,
// bounded output, a timeout that kills the whole process group, precheck and
// reconcile commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { actionFromYaml, ctx } from './helpers.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-exec-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

/** Running, and not a zombie (PID 1 on these machines does not always reap orphans). */
const alive = (pid: number) => {
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
};

test('exit 0 succeeds; the runbook gets VIGIL_* and its own env; output is captured', async () => withDir(async (dir) => {
  const a = actionFromYaml(`{ type: exec, command: [/bin/sh, -c, 'env | grep -E "^(VIGIL_|ZONE)" | sort > ${dir}/env; echo switched'], env: { ZONE: example.org } }`);
  assert.equal(a.scope, 'host');
  const r = await a.execute(ctx());
  assert.equal(r.outcome, 'succeeded');
  assert.match(r.detail, /^sh exited with code 0 after/);
  assert.equal(r.output, 'switched\n');
  const env = (await readFile(join(dir, 'env'), 'utf8')).trim().split('\n');
  assert.deepEqual(env, [
    'VIGIL_ACTION=exec', 'VIGIL_DRY_RUN=0', 'VIGIL_FORCED=0', 'VIGIL_INTENT_ID=intent-1', 'VIGIL_MESSAGE=connect to 127.0.0.1:1: refused',
    'VIGIL_PHASE=execute', 'VIGIL_PROBE=api', 'VIGIL_REASON=connect_refused', 'VIGIL_RULE=rule', 'ZONE=example.org',
  ]);
}));

test('a non-zero exit fails with the code; no shell is involved unless written', async () => {
  const fail = await actionFromYaml(`{ type: exec, command: [/bin/sh, -c, 'echo oops >&2; exit 3'] }`).execute(ctx());
  assert.equal(fail.outcome, 'failed');
  assert.match(fail.detail, /^sh exited with code 3/);
  assert.equal(fail.output, 'oops\n');
  const literal = await actionFromYaml(`{ type: exec, command: [/bin/echo, '$HOME; rm -rf /'] }`).execute(ctx());
  assert.equal(literal.output, '$HOME; rm -rf /\n', 'arguments reach the program untouched');
  const missing = await actionFromYaml(`{ type: exec, command: [/nonexistent/runbook] }`).execute(ctx());
  assert.equal(missing.outcome, 'failed');
  assert.match(missing.detail, /cannot run runbook: ENOENT/);
});

test('a failed run says why in its one-line detail: the last lines of its output, cut to 300 characters', async () => {
  const r = await actionFromYaml(`{ type: exec, command: [/bin/sh, -c, 'echo starting; echo; echo "dns: zone example.org is locked by deploy-42" >&2; exit 4'] }`).execute(ctx());
  assert.equal(r.outcome, 'failed');
  assert.match(r.detail, /^sh exited with code 4 after \S+: starting \| dns: zone example\.org is locked by deploy-42$/);
  const long = await actionFromYaml(`{ type: exec, command: [/bin/sh, -c, 'printf "%0500d\\n" 7 >&2; exit 1'] }`).execute(ctx());
  const tail = long.detail.split(': ').slice(1).join(': ');
  assert.equal(tail.length, 300);
  assert.ok(tail.startsWith('…') && tail.endsWith('7'), tail);
  const ok = await actionFromYaml(`{ type: exec, command: [/bin/sh, -c, 'echo fine'] }`).execute(ctx());
  assert.doesNotMatch(ok.detail, /fine/, 'a success keeps its detail short');
});

test('timeout kills the whole process group, background children included', async () => withDir(async (dir) => {
  const a = actionFromYaml(`{ type: exec, timeout: 300ms, command: [/bin/sh, -c, 'sleep 30 & echo $! > ${dir}/child; sleep 30'] }`);
  const t0 = Date.now();
  const r = await a.execute(ctx());
  const took = Date.now() - t0;
  assert.equal(r.outcome, 'failed');
  assert.match(r.detail, /timed out after 300ms; its process group was killed/);
  assert.ok(took < 3000, `took ${took} ms`);
  const child = Number(await readFile(join(dir, 'child'), 'utf8'));
  for (let i = 0; i < 50 && alive(child); i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(alive(child), false, `background child ${child} survived`);
}));

test('output is bounded: the last output_limit bytes are kept and the rest counted', async () => {
  const r = await actionFromYaml(`{ type: exec, output_limit: 1KiB, command: [/bin/sh, -c, 'i=0; while [ $i -lt 500 ]; do echo line-$i-xxxxxxxxxx; i=$((i+1)); done'] }`).execute(ctx());
  assert.equal(r.outcome, 'succeeded');
  const [note, ...rest] = r.output!.split('\n');
  assert.match(note, /^\[\d+ earlier bytes dropped\]$/);
  assert.equal(Buffer.byteLength(rest.join('\n')), 1024);
  assert.ok(r.output!.endsWith('line-499-xxxxxxxxxx\n'));
});

test('precheck_command vetoes with its last line; reconcile_command says whether the effect is in place', async () => withDir(async (dir) => {
  const a = actionFromYaml(`{ type: exec, command: [/bin/true], precheck_command: [/bin/sh, -c, 'echo checking; echo standby is down; exit 1'], reconcile_command: [/bin/sh, -c, 'test -e ${dir}/flag'] }`);
  const pre = await a.precheck(ctx({ dryRun: true }));
  assert.deepEqual(pre, { ok: false, reason: 'precheck_failed', detail: 'precheck_command: sh exited with code 1: standby is down' });
  const intent = { id: 'x', rule: 'rule', action: 'exec', target: '/bin/true', at: Date.now() };
  assert.equal((await a.reconcile!(ctx(), intent)).outcome, 'reconciled_failed');
  await import('node:fs/promises').then((fs) => fs.writeFile(join(dir, 'flag'), ''));
  assert.equal((await a.reconcile!(ctx(), intent)).outcome, 'reconciled_succeeded');
  const plain = actionFromYaml('{ type: exec, command: [/bin/true] }');
  assert.deepEqual(await plain.precheck(ctx()), { ok: true });
  const r = await plain.reconcile!(ctx(), intent);
  assert.equal(r.outcome, 'reconciled_unknown');
  assert.match(r.detail, /was not repeated/);
}));

test('peer text in VIGIL_MESSAGE cannot stop the runbook: a 200 KiB message is cut, a NUL byte removed', async () => withDir(async (dir) => {
  const a = actionFromYaml(`{ type: exec, command: [/bin/sh, -c, 'printf "%s" "$VIGIL_MESSAGE" > ${dir}/msg'] }`);
  const huge = await a.execute(ctx({ message: `${'x'.repeat(200 * 1024)}` }));
  assert.equal(huge.outcome, 'succeeded', huge.detail);
  const got = await readFile(join(dir, 'msg'), 'utf8');
  assert.ok(got.length <= 4096 && got.startsWith('xxxx') && got.endsWith('… (truncated)'), `${got.length} chars`);
  const nul = await a.execute(ctx({ message: 'before\u0000after\u0007bell' }));
  assert.equal(nul.outcome, 'succeeded', nul.detail);
  assert.equal(await readFile(join(dir, 'msg'), 'utf8'), 'before after bell');
}));
