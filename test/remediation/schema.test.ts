// The remediation part of vigil.yaml: defaults, and an exact problem (path,
// line, message) for each kind of mistake — table-driven, as
// blackbox_exporter tests its config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { parseConfigText } from '../../src/config/load.js';
import { Agent } from '../../src/agent.js';

const PROBES = `probes:
  - name: api
    type: tcp
    address: 127.0.0.1:1
  - name: lb
    type: tcp
    address: 127.0.0.1:2
`;
const ALLOW = `actions:
  systemd_restart:
    allowed_units: [api.service]
`;
const parse = (text: string) => parseConfigText(text, Agent.loadOptions({ ...process.env, TOKEN: 'x' }));

test('a full remediation config parses, with defaults from the schema', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-schema-'));
  try {
    await writeFile(join(dir, 'token'), 'a'.repeat(64) + '\n');
    const r = parse(`${PROBES}${ALLOW}
agent:
  dry_run: true
  state_dir: ${dir}/state
remediations:
  - name: restart-api
    when: { probe: api, state: critical }
    action: { type: systemd_restart, unit: api.service, scope: user }
    cooldown: 2m
  - name: leave-asg
    when: { probe: api, all_of: [lb] }
    after: restart-api
    action: { type: asg_set_unhealthy, instance_id: i-0123456789abcdef0, region: us-east-1 }
  - name: dns
    when: { probe: lb, failures: 5 }
    action: { type: exec, command: [/usr/local/bin/switch-dns, --to, standby], env: { ZONE: example.org } }
maintenance:
  - schedule: "0 2 * * SUN"
    duration: 2h
    timezone: Europe/Berlin
admin:
  listen: 127.0.0.1:0
  token_file: ${dir}/token
`);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const c = r.config;
    assert.equal(c.agent.dry_run, true);
    assert.equal(c.agent.startup_grace, 30_000);
    assert.deepEqual(c.agent.action_budget, { max_actions: 10, window: 3600_000 });
    const [restart, leave, dns] = c.remediations;
    assert.equal(restart.cooldown, 120_000);
    assert.equal(restart.grace, 30_000);
    assert.equal(restart.max_actions, 3);
    assert.equal(restart.window, 3600_000);
    assert.equal(restart.action.type, 'systemd_restart');
    assert.equal((restart.action as Record<string, unknown>).scope, 'user');
    assert.equal((restart.action as Record<string, unknown>).timeout, 120_000);
    assert.equal((leave.action as Record<string, unknown>).min_healthy_ratio, 0.5);
    assert.equal((leave.action as Record<string, unknown>).should_respect_grace_period, true);
    assert.equal((dns.action as Record<string, unknown>).output_limit, 4096);
    assert.equal(c.maintenance[0].duration, 7200_000);
    assert.deepEqual(c.admin?.listen, { host: '127.0.0.1', port: 0 });
    // The token never shows up in JSON or inspect output.
    assert.ok(c.admin?.token?.matches('a'.repeat(64)));
    assert.doesNotMatch(JSON.stringify(c), /aaaaaaaa/);
    assert.doesNotMatch(inspect(c, { depth: 10 }), /aaaaaaaa/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const CASES: Array<[string, string, Array<[string, number | undefined, RegExp]>]> = [
  ['unknown probe', `${PROBES}${ALLOW}remediations:
  - name: r
    when: { probe: apx }
    action: { type: systemd_restart, unit: api.service }
`, [['remediations[0].when.probe', 13, /no probe named "apx" \(probes: api, lb\)/]]],
  ['unit not in the allowlist', `${PROBES}${ALLOW}remediations:
  - name: r
    when: { probe: api }
    action: { type: systemd_restart, unit: sshd.service }
`, [['remediations[0].action.unit', 14, /unit "sshd.service" is not in actions.systemd_restart.allowed_units \(api.service\); add it there/]]],
  ['no allowlist at all', `${PROBES}remediations:
  - name: r
    when: { probe: api }
    action: { type: systemd_restart, unit: api.service }
`, [['remediations[0].action.unit', 11, /not in actions.systemd_restart.allowed_units \(empty\)/]]],
  ['escalation from an unknown rule, and a cycle', `${PROBES}remediations:
  - name: a
    when: { probe: api }
    after: nope
    action: { type: exec, command: [/bin/true] }
  - name: b
    when: { probe: api }
    after: c
    action: { type: exec, command: [/bin/true] }
  - name: c
    when: { probe: api }
    after: b
    action: { type: exec, command: [/bin/true] }
`, [['remediations[0].after', 11, /no remediation named "nope"/], ['remediations[1].after', 15, /escalation cycle: b → c → b/], ['remediations[2].after', 19, /escalation cycle: c → b → c/]]],
  ['state and failures together; neither probe nor all_of', `${PROBES}remediations:
  - name: a
    when: { probe: api, state: critical, failures: 3 }
    action: { type: exec, command: [/bin/true] }
  - name: b
    when: { state: critical }
    action: { type: exec, command: [/bin/true] }
`, [['remediations[0].when.failures', 10, /set either state or failures, not both/], ['remediations[1].when', 13, /needs `probe: NAME`/]]],
  ['unknown action type and key', `${PROBES}remediations:
  - name: a
    when: { probe: api }
    action: { type: reboot }
  - name: b
    when: { probe: api }
    action: { type: exec, command: [/bin/true], shell: true }
`, [['remediations[0].action.type', 11, /type must be one of systemd_restart, asg_set_unhealthy, exec/], ['remediations[1].action.shell', 14, /unknown key/]]],
  ['exec env may not set VIGIL_*', `${PROBES}remediations:
  - name: a
    when: { probe: api }
    action: { type: exec, command: [/bin/true], env: { VIGIL_RULE: x } }
`, [['remediations[0].action.env.VIGIL_RULE', 11, /set by vigil itself/]]],
  ['maintenance: six fields, bad time zone', `${PROBES}maintenance:
  - schedule: "0 0 2 * * SUN"
    duration: 2h
    timezone: Mars/Olympus
`, [['maintenance[0].schedule', 9, /not a 5-field cron expression/], ['maintenance[0].timezone', 11, /not an IANA time zone/]]],
  ['admin token file missing', `${PROBES}admin:
  token_file: /nonexistent/vigil-admin.token
`, [['admin.token_file', 9, /cannot read \/nonexistent\/vigil-admin.token \(ENOENT\); create it, e.g. `openssl rand -hex 32 >/]]],
  ['admin on the agent\'s own address', `${PROBES}agent:\n  listen: 127.0.0.1:9900\nadmin:\n  listen: 127.0.0.1:9900\n`,
    [['admin.listen', 11, /must differ from agent.listen \(127.0.0.1:9900\)/]]],
  ['duplicate rule names', `${PROBES}remediations:
  - name: a
    when: { probe: api }
    action: { type: exec, command: [/bin/true] }
  - name: a
    when: { probe: lb }
    action: { type: exec, command: [/bin/true] }
`, [['remediations[1].name', 12, /duplicate remediation name "a" \(also remediations\[0\]\)/]]],
];

for (const [name, text, expected] of CASES) {
  test(`config problem: ${name}`, () => {
    const r = parse(text);
    assert.equal(r.ok, false, 'should be refused');
    if (r.ok) return;
    const got = r.problems.map((p) => `${p.path} @${p.line}: ${p.message}`);
    assert.equal(r.problems.length, expected.length, got.join('\n'));
    expected.forEach(([path, line, msg], i) => {
      const p = r.problems.find((x) => x.path === path);
      assert.ok(p, `no problem at ${path}; got:\n${got.join('\n')}`);
      assert.equal(p.line, line, `${path} line; got:\n${got.join('\n')}`);
      assert.match(p.message, msg, `problem ${i}`);
    });
  });
}

test('admin token shorter than 16 characters is refused with how to make one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-schema-'));
  try {
    await writeFile(join(dir, 'token'), 'short\n');
    const r = parse(`${PROBES}admin:\n  token_file: ${dir}/token\n`);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.problems[0].path, 'admin.token_file');
      assert.match(r.problems[0].message, /shorter than 16 characters; write a random one, e.g. `openssl rand -hex 32 >/);
      assert.doesNotMatch(r.problems[0].message, /short\b(?! than)/, 'the token itself is not echoed');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('admin token with whitespace inside is refused (it could never match a Bearer header); one readable by others is warned about', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-schema-'));
  try {
    await writeFile(join(dir, 'token'), 'abcdefgh ijklmnopqrstuvwxyz012345\n');
    const r = parse(`${PROBES}admin:\n  token_file: ${dir}/token\n`);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.problems[0].message, /contains whitespace; a Bearer token cannot/);
    const { chmod } = await import('node:fs/promises');
    const { tokenFileWarning } = await import('../../src/server/admin-token.js');
    await writeFile(join(dir, 'ok'), 'a'.repeat(64));
    await chmod(join(dir, 'ok'), 0o644);
    assert.match(tokenFileWarning(join(dir, 'ok')) ?? '', /readable by group or others \(mode 644\); chmod 600/);
    await chmod(join(dir, 'ok'), 0o600);
    assert.equal(tokenFileWarning(join(dir, 'ok')), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
