// Table-driven: every file in test/fixtures/config is loaded. A fixture whose
// name starts with "valid" must load; every other one lists, in `# expect:`
// lines at its top, exactly the problem lines check-config prints for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { formatProblems, loadConfigFile } from '../../src/config/load.js';
import { FIXTURES, FIXTURE_ENV, expectedLines } from '../helpers/config-fixtures.js';

const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.yaml')).sort();

test('there are fixtures, and every bad one says what it expects', () => {
  assert.ok(files.length >= 20, `only ${files.length} fixtures`);
  for (const f of files) {
    if (f.startsWith('valid')) continue;
    assert.ok(expectedLines(join(FIXTURES, f)).length > 0, `${f} has no "# expect:" line`);
  }
});

for (const f of files) {
  test(`fixture ${f}`, async () => {
    const path = join(FIXTURES, f);
    const loaded = await loadConfigFile(path, Agent.loadOptions(FIXTURE_ENV));
    if (f.startsWith('valid')) {
      assert.equal(loaded.ok, true, loaded.ok ? '' : formatProblems(f, loaded.problems));
      return;
    }
    assert.equal(loaded.ok, false, `${f} loaded but should not`);
    if (loaded.ok) return;
    const printed = formatProblems(path, loaded.problems).trimEnd().split('\n');
    const expected = expectedLines(path);
    assert.equal(printed[0], `${path}: ${expected.length} problem${expected.length === 1 ? '' : 's'}`);
    assert.deepEqual(printed.slice(1).map((l) => l.replace(/^ {2}/, '')), expected);
  });
}
