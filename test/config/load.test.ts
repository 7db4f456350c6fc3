// parseConfigText edge cases that are not one fixture each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from '../../src/agent.js';
import { parseConfigText } from '../../src/config/load.js';

const opts = Agent.loadOptions({});

test('a YAML syntax error carries its line', () => {
  const r = parseConfigText('agent:\n  listen: 127.0.0.1:9817\nprobes: [\n', opts);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.ok(r.problems.every((p) => typeof p.line === 'number'), JSON.stringify(r.problems));
    assert.match(r.problems[0].message, /^YAML syntax error: /);
  }
});
