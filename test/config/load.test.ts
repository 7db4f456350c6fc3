// parseConfigText edge cases that are not one fixture each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from '../../src/agent.js';
import { parseConfigText } from '../../src/config/load.js';

const opts = Agent.loadOptions({});

test('a long comment header does not stall the loader', () => {
  const header = Array.from({ length: 26 }, (_, i) => `# line ${i} of a long header`).join('\n');
  const started = performance.now();
  const r = parseConfigText(`${header}\nprobes:\n  - {name: d, type: disk, path: /}\n`, opts);
  const took = performance.now() - started;
  assert.equal(r.ok, true);
  assert.ok(took < 500, `took ${took.toFixed(0)} ms`);
});

test('empty in all its spellings gets the empty-file message', () => {
  for (const text of ['', '\n\n', '# only a comment\n', '---\n', '---\n# c\n...\n', '~\n']) {
    const r = parseConfigText(text, opts);
    assert.equal(r.ok, false, JSON.stringify(text));
    if (!r.ok) assert.match(r.problems[0].message, /^config file is empty/, JSON.stringify(text));
  }
});

test('a YAML syntax error carries its line', () => {
  const r = parseConfigText('agent:\n  listen: 127.0.0.1:9817\nprobes: [\n', opts);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.ok(r.problems.every((p) => typeof p.line === 'number'), JSON.stringify(r.problems));
    assert.match(r.problems[0].message, /^YAML syntax error: /);
  }
});

test('a scalar at the top level is not a config', () => {
  const r = parseConfigText('# c\njust a string\n', opts);
  assert.equal(r.ok, false);
  if (!r.ok) assert.deepEqual(r.problems, [{ path: '', line: 2, message: 'the top level must be a mapping with keys like agent: and probes:' }]);
});

test('an unknown key written as a number, a boolean or ~ is reported at its own line', () => {
  const r = parseConfigText('agent:\n  listen: 127.0.0.1:9817\n  1: x\n  true: y\n  ~: z\nprobes: []\n', opts);
  assert.equal(r.ok, false);
  if (!r.ok) assert.deepEqual(r.problems.map((p) => [p.path, p.line]), [['agent.1', 3], ['agent.true', 4], ['agent.', 5]]);
});
