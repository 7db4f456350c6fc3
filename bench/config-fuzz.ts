// Config fuzzer, long run (issue 11): mutations of every shipped example
// through the code `vigil check-config` runs, in this process. Prints how many
// cases were valid, refused (exit 2) and violations (anything else: an escaped
// exception, a problem without a location, a stack trace or "internal error"
// in the output, a case slower than 3 s), the slowest case, and how to
// reproduce each violation. It is not a test; test/config/config-fuzz.test.ts
// runs a few hundred of the same cases in `npm test`.
//
//   node --import tsx bench/config-fuzz.ts            # 5000 cases, seeds from 1
//   node --import tsx bench/config-fuzz.ts 20000      # more
//   node --import tsx bench/config-fuzz.ts 5000 100000   # 5000 cases, seeds from 100000
//
// Exits 1 when there was a violation. Each case is named on stderr before it
// runs (overwriting the last), so when the process dies outright the last one
// named is the culprit.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cases, checkConfigInProcess, describeCase, setUpExamples, violations } from '../test/helpers/config-mutations.js';

const count = Number(process.argv[2] ?? 5000);
const firstSeed = Number(process.argv[3] ?? 1);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(firstSeed)) {
  process.stderr.write('usage: node --import tsx bench/config-fuzz.ts [cases] [first-seed]\n');
  process.exit(2);
}

const setup = setUpExamples();
const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
const file = join(setup.dir, 'fuzz.yaml');
let valid = 0;
let refused = 0;
const found: string[] = [];
let slowest = { ms: 0, what: '' };
const t0 = performance.now();
try {
  let n = 0;
  for (const c of cases(setup.examples, count, firstSeed)) {
    process.stderr.write(`\rcase ${++n}/${count}: ${c.example} seed=${c.seed}    `);
    writeFileSync(file, c.text);
    const v = await checkConfigInProcess(file, env);
    if (v.ms > slowest.ms) slowest = { ms: v.ms, what: describeCase(c) };
    const bad = violations(c, v);
    if (bad.length > 0) {
      found.push(`${describeCase(c)}\n  ${bad.join('\n  ')}\n  output: ${v.output.length > 2000 ? `${v.output.slice(0, 2000)}…` : v.output}`);
    } else if (v.code === 0) valid++;
    else refused++;
  }
} finally {
  setup.cleanup();
}
process.stderr.write('\n');
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(`${count} cases over ${setup.examples.length} examples (seeds ${firstSeed}..) in ${seconds.toFixed(1)} s\n`
  + `  valid ${valid}, refused ${refused}, violations ${found.length}\n`
  + `  slowest ${slowest.ms.toFixed(1)} ms: ${slowest.what}\n`);
for (const f of found) process.stdout.write(`\nVIOLATION ${f}\n`);
process.exit(found.length > 0 ? 1 : 0);
