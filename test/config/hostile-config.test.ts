// Config files that no operator meant: YAML aliases that do not resolve or
// multiply without end, durations past what a timer can wait, a file of tens
// of MiB. Each is a located problem (exit 2), never "internal error"; a
// running agent reports such a reload as failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { formatProblems, parseConfigText } from '../../src/config/load.js';
import { Agent } from '../../src/agent.js';
import { runVigil, startAgent, tempDir } from '../helpers/agent.js';

const opts = Agent.loadOptions({});
const probe = (extra = '') => `probes:\n  - name: disk\n    type: disk\n    path: /\n${extra}`;
const problemsOf = (text: string) => {
  const r = parseConfigText(text, opts);
  assert.equal(r.ok, false, 'refused');
  return r.ok ? [] : r.problems;
};

const BOMB = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
${probe()}`;

test('an unresolved alias and an alias bomb are located problems', () => {
  const [u] = problemsOf(`${probe()}    interval: *nowhere\n`);
  assert.equal(u.line, 5);
  assert.match(u.message, /alias \*nowhere .*no anchor/i);
  const [b] = problemsOf(BOMB);
  assert.ok(b.line !== undefined && b.line >= 1);
  assert.match(b.message, /aliases/i);
});

test('durations are bounded: longer than 24d is refused with its line', () => {
  const p = problemsOf(probe('    interval: 5w\n    timeout: 4w\n'));
  assert.deepEqual(p.map((x) => [x.path, x.line]), [['probes[0].interval', 5], ['probes[0].timeout', 6]]);
  assert.match(p[0].message, /at most 24d/);
});

test('a 5 MiB config file is refused at once with its size, not parsed', async () => {
  const { dir, cleanup } = tempDir();
  const file = join(dir, 'huge.yaml');
  writeFileSync(file, `${probe()}# ${'x'.repeat(5 * 1024 * 1024)}\n`);
  const t0 = Date.now();
  const r = await runVigil(['check-config', file], process.env);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr + r.stdout, /is 5\.0 MiB; vigil reads config files of at most 4 MiB/);
  assert.ok(Date.now() - t0 < 10_000);
  cleanup();
});

test('check-config on an alias bomb: exit 2, a location, no internal error', async () => {
  const { dir, cleanup } = tempDir();
  const file = join(dir, 'bomb.yaml');
  writeFileSync(file, BOMB);
  const r = await runVigil(['check-config', file], process.env);
  cleanup();
  assert.equal(r.code, 2, r.stderr);
  assert.doesNotMatch(r.stderr + r.stdout, /internal error|^\s+at /m);
  assert.match(r.stderr + r.stdout, /line \d+: .*alias/i);
});

test('a reload that hits an alias bomb is reported as failed (metric 0, 400), the old config runs on', async () => {
  const a = await startAgent(probe('    interval: 1s\n'));
  try {
    a.writeConfig(BOMB);
    const r = await a.post('/-/reload');
    assert.equal(r.status, 400);
    assert.equal(r.json().ok, false);
    const m = (await a.get('/metrics')).body;
    assert.match(m, /^vigil_config_last_reload_successful 0$/m);
    assert.deepEqual(Object.keys((await a.get('/status')).json().probes), ['disk']);
  } finally {
    await a.stop();
  }
});

test('check-config prints one line a problem: a newline or terminal escape a value carries is shown escaped', () => {
  const r = parseConfigText(probe('    interval: "5s\\nprobes[9].fake (line 1): all good\\x1b[2J\\x9b"\n'), opts);
  assert.equal(r.ok, false);
  if (r.ok) return;
  const out = formatProblems('bad.yaml', r.problems);
  assert.equal(out, 'bad.yaml: 1 problem\n  probes[0].interval (line 5): "5s\\nprobes[9].fake (line 1): all good\\u001b[2J\\u009b" is not a duration like 500ms, 5s, 1m or 1h30m\n');
});

test('a key that is a sequence, a mapping or a tagged value is a problem at its line; the yaml library prints no warning on stderr', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => { warnings.push(w.message); };
  process.on('warning', onWarning);
  try {
    const p = problemsOf(`agent:\n  [a, b]: 1\n  ? { c: 1 }\n  : 2\n  !!binary aGVsbG8=: 3\n${probe('    headers: { [x]: y }\n')}`);
    await new Promise(setImmediate);
    assert.deepEqual(p.map((x) => [x.path, x.line, x.message]), [
      ['agent', 2, 'a key must be a plain name (like interval:), not a sequence'],
      ['agent', 3, 'a key must be a plain name (like interval:), not a mapping'],
      ['agent', 5, 'a key must be a plain name (like interval:), not a !!binary value'],
      ['probes[0].headers', 10, 'a key must be a plain name (like interval:), not a sequence'],
    ]);
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
  }
});

test('a mapping of 40 000 keys (0.6 MiB, under the size limit) is checked in seconds, not minutes; a duplicate key is still found', () => {
  const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: ${i}`);
  const started = performance.now();
  const p = problemsOf(`agent:\n${keys.join('\n')}\n  k7: again\n${probe()}`);
  const took = performance.now() - started;
  assert.deepEqual(p, [{ path: '', line: 40_002, message: 'YAML syntax error: Map keys must be unique' }]);
  assert.ok(took < 10_000, `took ${took.toFixed(0)} ms`);
  const unknown = problemsOf(`agent:\n${keys.join('\n')}\n${probe()}`);
  assert.equal(unknown.length, 40_000);
  assert.deepEqual(unknown[39_999], { path: 'agent.k39999', line: 40_001, message: 'unknown key' });
  assert.ok(performance.now() - started < 20_000, `took ${(performance.now() - started).toFixed(0)} ms`);
});

test('collections nested thousands deep are a located problem, not a stack overflow ("internal error") or an aborted process', async () => {
  const deep = (n: number) => [
    `probes:\n${'- '.repeat(n)}\n${'- '.repeat(n)}\n`, // threw out of the parser
    `probes:\n  ${'- '.repeat(n)}x\n`,
    `probes: ${'['.repeat(n)}${']'.repeat(n)}\n`,
    `probes: ${'{a: '.repeat(n)}1${'}'.repeat(n)}\n`,
    `probes:\n${Array.from({ length: 150 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')} 1\n`,
  ];
  for (const text of [...deep(3000), ...deep(101)]) {
    const [p, ...rest] = problemsOf(text);
    assert.deepEqual(rest, [], JSON.stringify(rest.slice(0, 2)));
    assert.match(p.message, /^collections nest more than 100 levels deep here; a vigil config needs fewer than 10$/);
    assert.ok(p.line !== undefined && p.line >= 1 && p.line <= 152, `line ${p.line}`);
  }
  // 50 levels is absurd but harmless: the ordinary problems.
  assert.match(problemsOf(`probes: ${'['.repeat(50)}${']'.repeat(50)}\n`)[0].message, /Expected object, received array/);
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'deep.yaml');
    writeFileSync(file, deep(3000)[0]);
    const r = await runVigil(['check-config', file], process.env);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `${file}: 1 problem\n  line 2: collections nest more than 100 levels deep here; a vigil config needs fewer than 10\n`);
  } finally {
    cleanup();
  }
});
