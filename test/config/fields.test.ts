// Secret forms: "${ENV}" references, { file: path }, and the key / key_file pair.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { resolveSecretFile, secret, secretWithFile } from '../../src/config/fields.js';
import { tempDir } from '../helpers/agent.js';

test('${ENV} is expanded; an unset variable is a problem naming it', () => {
  const s = secret({ USER_A: 'alice', PW: 's3cret' });
  assert.equal(s.parse('${USER_A}:${PW}@db'), 'alice:s3cret@db');
  assert.equal(s.parse('no refs, $PW stays'), 'no refs, $PW stays');
  const r = s.safeParse('token ${MISSING_VAR}');
  assert.equal(r.success, false);
  assert.equal(r.error!.issues[0].message, 'environment variable MISSING_VAR is not set');
});

test('{ file } reads the secret without the trailing newline', () => {
  const { dir, cleanup } = tempDir();
  try {
    const f = join(dir, 'token');
    writeFileSync(f, 'abc123\n');
    assert.equal(secret({}).parse({ file: f }), 'abc123');
    const r = secret({}).safeParse({ file: join(dir, 'absent') });
    assert.equal(r.success, false);
    assert.equal(r.error!.issues[0].message, `cannot read secret file ${join(dir, 'absent')} (ENOENT)`);
    assert.equal(secret({}).safeParse({ file: f, extra: 1 }).success, false);
  } finally {
    cleanup();
  }
});

test('key or key_file, not both; key_file is read', () => {
  const { dir, cleanup } = tempDir();
  try {
    const f = join(dir, 'pw');
    writeFileSync(f, 'from-file\n');
    const schema = z.object({ user: z.string(), ...secretWithFile('password', { PW: 'from-env' }) }).strict()
      .transform((o, ctx) => resolveSecretFile(o as Record<string, unknown>, 'password', ctx));
    assert.equal(schema.parse({ user: 'u', password_file: f }).password, 'from-file');
    assert.equal(schema.parse({ user: 'u', password: '${PW}' }).password, 'from-env');
    const both = schema.safeParse({ user: 'u', password: 'x', password_file: f });
    assert.equal(both.success, false);
    assert.deepEqual(both.error!.issues.map((i) => [i.path.join('.'), i.message]), [['password_file', 'set either password or password_file, not both']]);
  } finally {
    cleanup();
  }
});
