// Config fuzzer (issue 11): 300 seeded mutations of the shipped examples go
// through the code `vigil check-config` runs, in this process, and a few of
// them through the real CLI. Every case must exit 0 or 2, print no stack
// trace or "internal error", and for exit 2 name a location (YAML path or
// line) for every problem; only a file-level problem (FILE_LEVEL_PROBLEMS)
// may have none. bench/config-fuzz.ts runs thousands of the same cases.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runVigil } from '../helpers/agent.js';
import {
  MUTATION_KINDS, cases, checkConfigInProcess, describeCase, setUpExamples, violations, type FuzzCase, type FuzzSetup,
} from '../helpers/config-mutations.js';

const CASES = 300;
const FIRST_SEED = 1;
/** Real `vigil check-config` subprocesses: the first case of each mutation kind, and one valid case. */
const CLI_CASES = MUTATION_KINDS.length + 1;

let setup: FuzzSetup;
before(() => { setup = setUpExamples(); });
after(() => setup?.cleanup());

test('every shipped example is valid before it is mutated', async () => {
  assert.ok(setup.examples.length >= 5, setup.examples.map((e) => e.name).join(', '));
  for (const e of setup.examples) {
    const file = join(setup.dir, `unmutated-${e.name.replaceAll('/', '-')}`);
    writeFileSync(file, e.text);
    const v = await checkConfigInProcess(file, process.env);
    assert.equal(v.code, 0, `${e.name}: ${v.output}`);
  }
});

const checked: Array<{ c: FuzzCase; code: number; output: string }> = [];

test(`${CASES} mutated examples: exit 0 or 2, a location for every problem, no stack trace or internal error`, async () => {
  const failures: string[] = [];
  const kinds = new Map<string, number>();
  const file = join(setup.dir, 'fuzz.yaml');
  for (const c of cases(setup.examples, CASES, FIRST_SEED)) {
    for (const m of c.mutations) { const kind = m.split(':')[0]; kinds.set(kind, (kinds.get(kind) ?? 0) + 1); }
    writeFileSync(file, c.text);
    const v = await checkConfigInProcess(file, process.env);
    const bad = violations(c, v);
    if (bad.length > 0) failures.push(`${describeCase(c)}\n  ${bad.join('\n  ')}\n  output: ${v.output.slice(0, 2000)}`);
    checked.push({ c, code: v.code, output: v.output.replaceAll(file, 'FILE') });
  }
  assert.deepEqual(failures, [], `${failures.length} of ${CASES} cases failed:\n\n${failures.join('\n\n')}`);
  // The cases exercise every kind of mutation and both verdicts.
  assert.deepEqual(MUTATION_KINDS.filter((k) => (kinds.get(k) ?? 0) < 5), [], JSON.stringify(Object.fromEntries(kinds)));
  assert.ok(checked.some((x) => x.code === 0) && checked.some((x) => x.code === 2));
});

test(`${CLI_CASES} of the cases through the real CLI print exactly what the in-process run printed`, async () => {
  assert.equal(checked.length, CASES, 'the in-process cases ran');
  const picked = MUTATION_KINDS.map((k) => checked.find((x) => x.c.mutations[0]?.startsWith(`${k}:`))!)
    .concat(checked.find((x) => x.code === 0)!);
  assert.equal(picked.filter(Boolean).length, CLI_CASES);
  const failures: string[] = [];
  // Two at a time: each is a Node process with tsx.
  for (let i = 0; i < picked.length; i += 2) {
    await Promise.all(picked.slice(i, i + 2).map(async ({ c, code, output }, j) => {
      const file = join(setup.dir, `cli-${i + j}.yaml`);
      writeFileSync(file, c.text);
      const r = await runVigil(['check-config', file], process.env);
      const printed = (code === 0 ? r.stdout : r.stderr).replaceAll(file, 'FILE');
      const other = code === 0 ? r.stderr : r.stdout;
      if (r.code !== code || printed !== output || other !== '') {
        failures.push(`${describeCase(c)}\n  in process: exit ${code}\n${output}  CLI: exit ${r.code}\n  stdout: ${r.stdout}\n  stderr: ${r.stderr}`);
      }
    }));
  }
  assert.deepEqual(failures, [], failures.join('\n\n'));
});
