// `vigil check-config FILE` as a real subprocess: exit 0 when valid, 2 when
// not, every problem printed with path and line, never a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { runVigil, tempDir } from '../helpers/agent.js';
import { FIXTURES, FIXTURE_ENV, expectedLines } from '../helpers/config-fixtures.js';

const env = { ...process.env, ...FIXTURE_ENV };
delete env.VIGIL_FIXTURE_UNSET;

function assertNoStack(text: string) {
  assert.doesNotMatch(text, /^\s+at .+[(:]\d+/m, `looks like a stack trace:\n${text}`);
  assert.doesNotMatch(text, /Error:|ZodError|node:internal/, `looks like an internal error:\n${text}`);
}

test('a valid file: exit 0 and a one-line verdict', async () => {
  const file = join(FIXTURES, 'valid-full.yaml');
  const r = await runVigil(['check-config', file], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${file}: valid (3 probes)\n`);
  assert.equal(r.stderr, '');
});

test('a file with many problems: exit 2 and every problem with path and line', async () => {
  const file = join(FIXTURES, 'timeout-not-shorter.yaml');
  const r = await runVigil(['check-config', file], env);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `${file}: 1 problem\n  probes[1].timeout (line 14): must be shorter than interval 1s\n`);
  assertNoStack(r.stderr);
});

for (const name of ['unknown-key-probe.yaml', 'env-unset.yaml', 'tls-ca-missing.yaml', 'unknown-type.yaml']) {
  test(`check-config ${name}: exit 2, the fixture's exact lines`, async () => {
    const file = join(FIXTURES, name);
    const r = await runVigil(['check-config', file], env);
    assert.equal(r.code, 2);
    const lines = r.stderr.trimEnd().split('\n');
    assert.deepEqual(lines.slice(1).map((l) => l.trim()), expectedLines(file));
    assertNoStack(r.stderr);
  });
}

test('a missing file, an empty file and a directory each get their own message', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const missing = join(dir, 'nope.yaml');
    let r = await runVigil(['check-config', missing], env);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `${missing}: 1 problem\n  config file ${missing} does not exist\n`);

    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '');
    r = await runVigil(['check-config', empty], env);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `${empty}: 1 problem\n  config file is empty: it needs at least a \`probes:\` list (see examples/vigil.yaml)\n`);

    r = await runVigil(['check-config', dir], env);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `${dir}: 1 problem\n  ${dir} is a directory, not a config file\n`);
    for (const out of [r.stderr]) assertNoStack(out);
  } finally {
    cleanup();
  }
});

test('no file given: usage on stderr, exit 2', async () => {
  const r = await runVigil(['check-config'], env);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^vigil check-config: VIGIL_E_CLI_USAGE: which file\?\nusage: vigil check-config \[--config\] FILE \[--web\.config\.file WEB\]\n$/);
});

test('--config FILE works as every other subcommand takes it (docs/runbooks.md\'s form); the positional FILE still does', async () => {
  const file = join(FIXTURES, 'valid-full.yaml');
  for (const args of [['check-config', '--config', file], ['check-config', '-c', file], ['check-config', file], ['check-config', `--config=${file}`]]) {
    const r = await runVigil(args, env);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, `${file}: valid (3 probes)\n`);
  }
  const bad = join(FIXTURES, 'timeout-not-shorter.yaml');
  const r = await runVigil(['check-config', '--config', bad], env);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^\S+timeout-not-shorter\.yaml: 1 problem\n/);
  const extra = await runVigil(['check-config', '--config', file, 'other.yaml'], env);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /^vigil check-config: VIGIL_E_CLI_USAGE: unexpected "other\.yaml"/);
});
