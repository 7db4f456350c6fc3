// The alert rules, their unit tests, the dashboards and the example Prometheus
// and Alertmanager configurations, checked with the real promtool and amtool.
// A missing tool fails the test (CI installs them with apt); it never skips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { requireBinary } from '../harness/require-binary.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  REPO_ROOT, RULES_FILE, allExpressions, allPanels, dashboardFiles, loadDashboard, loadRuleGroups,
  rawDashboardExpressions, ruleExpressions, substituteGrafanaVariables, type Rule,
} from './expressions.js';

const RULES_TEST_FILE = 'alerts/vigil.rules.test.yml';
const PROMETHEUS_EXAMPLE = 'examples/prometheus.yml';
const ALERTMANAGER_EXAMPLE = 'examples/alertmanager.yml';
const RUNBOOKS = 'docs/runbooks.md';
const DASHBOARD_DOCS = 'docs/dashboards.md';
const RUNBOOK_URL_PREFIX = 'https://github.com/vigil-agent/vigil/blob/main/docs/runbooks.md#';
const DATASOURCE_UID = '${datasource}';

// The metrics the agent exports (src/metrics/catalogue.ts), the histogram's
// series, prom-client's default metrics, and Prometheus's own `up`.
const ALLOWED_METRICS = new Set([
  'vigil_probe_success', 'vigil_probe_duration_seconds',
  'vigil_probe_duration_seconds_bucket', 'vigil_probe_duration_seconds_sum', 'vigil_probe_duration_seconds_count',
  'vigil_probe_runs_total', 'vigil_probe_failures_total', 'vigil_probe_consecutive_failures',
  'vigil_probe_state', 'vigil_probe_last_run_timestamp_seconds', 'vigil_probe_skipped_total',
  'vigil_probe_last_failure_info', 'vigil_probe_state_changes_total',
  'vigil_http_status_code', 'vigil_tls_cert_expiry_timestamp_seconds',
  'vigil_disk_avail_bytes', 'vigil_disk_size_bytes', 'vigil_disk_inodes_free_ratio', 'vigil_disk_readonly',
  'vigil_mysql_replication_lag_seconds', 'vigil_mysql_replication_max_lag_seconds', 'vigil_mysql_replica_io_running', 'vigil_mysql_replica_sql_running',
  'vigil_mysql_replica_last_errno', 'vigil_mysql_cluster_epoch', 'vigil_mysql_fenced', 'vigil_mysql_primary_lease_held', 'vigil_mysql_errant_transactions',
  'vigil_postgres_wal_receiver_streaming', 'vigil_postgres_wal_position_bytes', 'vigil_postgres_replay_lag_bytes',
  'vigil_postgres_replay_paused', 'vigil_postgres_replication_lag_seconds', 'vigil_postgres_heartbeat_last_write_timestamp_seconds',
  'vigil_postgres_standbys', 'vigil_postgres_standby_state', 'vigil_postgres_standby_sync_state',
  'vigil_postgres_standby_lag_seconds', 'vigil_postgres_standby_lag_bytes',
  'vigil_remediation_actions_total', 'vigil_remediation_blocked_total', 'vigil_remediation_breaker_open',
  'vigil_remediation_last_action_timestamp_seconds', 'vigil_remediation_paused', 'vigil_maintenance_active',
  'vigil_build_info', 'vigil_config_last_reload_successful', 'vigil_config_last_reload_success_timestamp_seconds',
  'vigil_coordination_lock_held',
  'vigil_group_role', 'vigil_group_transitions_total', 'vigil_group_fencing_token', 'vigil_group_lease_renewal_age_seconds',
  'vigil_group_eligible', 'vigil_group_paused', 'vigil_group_hook_runs_total', 'vigil_group_standby_hook_failed',
  'vigil_fleet_members', 'vigil_fleet_critical_share', 'vigil_fleet_shared_cause', 'vigil_fleet_slots_held', 'vigil_fleet_slot_held_seconds',
  'process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total',
  'process_start_time_seconds', 'process_resident_memory_bytes', 'process_virtual_memory_bytes',
  'process_heap_bytes', 'process_open_fds', 'process_max_fds',
  'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_min_seconds', 'nodejs_eventloop_lag_max_seconds',
  'nodejs_eventloop_lag_mean_seconds', 'nodejs_eventloop_lag_stddev_seconds', 'nodejs_eventloop_lag_p50_seconds',
  'nodejs_eventloop_lag_p90_seconds', 'nodejs_eventloop_lag_p99_seconds',
  'nodejs_active_resources', 'nodejs_active_resources_total', 'nodejs_active_handles', 'nodejs_active_handles_total',
  'nodejs_active_requests', 'nodejs_active_requests_total', 'nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes', 'nodejs_heap_space_size_total_bytes', 'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes', 'nodejs_version_info', 'nodejs_gc_duration_seconds',
  'up',
]);

const SEVERITY_RECEIVER: Readonly<Record<string, string>> = { critical: 'pager', warning: 'chat', info: 'low-noise' };

// ---------------------------------------------------------------- helpers

const INSTALL_PACKAGES = 'prometheus prometheus-alertmanager';

/** promtool and amtool, found the way every harness finds a binary. */
function tool(name: string): string {
  return requireBinary(name, INSTALL_PACKAGES);
}

function run(name: string, args: string[]): { stdout: string; stderr: string } {
  const bin = tool(name);
  const res = spawnSync(bin, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  const shown = `$ ${name} ${args.join(' ')}\nexit ${res.status}${res.error ? ` (${res.error.message})` : ''}\n--- stdout\n${res.stdout}\n--- stderr\n${res.stderr}`;
  assert.equal(res.status, 0, shown);
  return { stdout: res.stdout, stderr: res.stderr };
}

const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');

function alertRules(): Rule[] {
  return loadRuleGroups().flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
}

function alertNames(): string[] {
  return [...new Set(alertRules().map((r) => r.alert as string))];
}

const PROMQL_WORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool',
  'inf', 'nan', 'atan2', 'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values',
  'bottomk', 'topk', 'quantile',
]);

/**
 * Metric names in a PromQL expression: identifiers outside strings, label
 * matchers, ranges and label lists, that are neither keywords nor functions.
 */
function metricNames(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/#.*$/gm, '');
  s = s.replace(/\{[^}]*\}/g, '{}');
  s = s.replace(/\[[^\]]*\]/g, '[]');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1()');
  const names = new Set<string>();
  for (const m of s.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)) {
    const word = m[1] as string;
    if (!PROMQL_WORDS.has(word.toLowerCase())) names.add(word);
  }
  // The issue's own rule, as a second net: anything shaped like a vigil metric.
  for (const m of expr.matchAll(/(?<![\w:])vigil_[a-z_]+/g)) names.add(m[0]);
  return [...names];
}

/** GitHub's anchor for a Markdown heading. */
function githubAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

// ------------------------------------------------------------ real tools

test('a missing tool fails the test with the apt-get line, never skips', () => {
  assert.throws(() => tool('vigil-no-such-tool'),
    (e: Error) => e.message === `vigil-no-such-tool not found: install it with \`apt-get install -y ${INSTALL_PACKAGES}\``);
});

test('promtool check rules accepts alerts/vigil.rules.yml', () => {
  const { stdout } = run('promtool', ['check', 'rules', RULES_FILE]);
  assert.match(stdout, /SUCCESS/);
});

test('promtool test rules passes every case in alerts/vigil.rules.test.yml', () => {
  const { stdout } = run('promtool', ['test', 'rules', RULES_TEST_FILE]);
  assert.match(stdout, /SUCCESS/);
});

test('promtool check config accepts examples/prometheus.yml and the rules it loads', () => {
  const { stdout } = run('promtool', ['check', 'config', PROMETHEUS_EXAMPLE]);
  assert.match(stdout, /SUCCESS: 1 rule files found/);
  const cfg = parseYaml(read(PROMETHEUS_EXAMPLE)) as { scrape_configs: { job_name: string }[]; rule_files: string[] };
  assert.ok(cfg.scrape_configs.some((j) => j.job_name === 'vigil'), 'a scrape job named vigil');
  assert.deepEqual(cfg.rule_files, ['../alerts/vigil.rules.yml']);
});

test('amtool check-config accepts examples/alertmanager.yml', () => {
  const { stdout } = run('amtool', ['check-config', ALERTMANAGER_EXAMPLE]);
  assert.match(stdout, /SUCCESS/);
});

test('examples/alertmanager.yml routes every alert by its severity', () => {
  const seen = new Set<string>();
  for (const r of alertRules()) {
    const severity = r.labels?.severity as string;
    const key = `${r.alert}/${severity}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const { stdout } = run('amtool', ['config', 'routes', 'test', `--config.file=${ALERTMANAGER_EXAMPLE}`,
      `alertname=${r.alert}`, `severity=${severity}`]);
    assert.equal(stdout.trim(), SEVERITY_RECEIVER[severity], `${key} goes to ${stdout.trim()}`);
  }
  // Alerts that are not vigil's stay on the default receiver.
  const { stdout } = run('amtool', ['config', 'routes', 'test', `--config.file=${ALERTMANAGER_EXAMPLE}`, 'alertname=NodeDown', 'severity=critical']);
  assert.equal(stdout.trim(), 'default');
});

test('every dashboard and annotation expression parses (promtool check rules)', () => {
  const exprs = allExpressions();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-promql-'));
  try {
    const file = join(dir, 'expressions.yml');
    const rules = exprs.map((e, i) => ({ record: `check:expression_${i}`, expr: e.expr }));
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'expressions', rules }] }, null, 2));
    const { stdout } = run('promtool', ['check', 'rules', file]);
    assert.match(stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------ alert rules

test('every alert has a severity, summary, description and a runbook section', () => {
  const runbooks = read(RUNBOOKS);
  const anchors = new Set([...runbooks.matchAll(/^##+ (.+)$/gm)].map((m) => githubAnchor(m[1] as string)));
  for (const r of alertRules()) {
    const name = r.alert as string;
    assert.ok(['critical', 'warning', 'info'].includes(r.labels?.severity ?? ''), `${name}: severity`);
    const a = r.annotations ?? {};
    for (const k of ['summary', 'description', 'runbook_url']) assert.ok(a[k], `${name}: annotation ${k}`);
    assert.match(`${a.summary} ${a.description}`, /\{\{ *(\$labels\.|\$value)/, `${name}: annotations show labels or the value`);
    assert.equal(a.runbook_url, RUNBOOK_URL_PREFIX + name.toLowerCase(), `${name}: runbook_url`);
    assert.ok(anchors.has(name.toLowerCase()), `${name}: no "## ${name}" section in ${RUNBOOKS}`);
  }
  for (const m of runbooks.matchAll(/^## (Vigil\w+)$/gm)) {
    assert.ok(alertNames().includes(m[1] as string), `${RUNBOOKS} has a section for unknown alert ${m[1]}`);
  }
});

test('the required alerts exist', () => {
  const names = alertNames();
  for (const n of ['VigilProbeCritical', 'VigilAgentDown', 'VigilConfigReloadFailed', 'VigilRemediationFailed',
    'VigilRemediationBreakerOpen', 'VigilRemediationPausedTooLong', 'VigilReplicationLagHigh',
    'VigilReplicationStopped', 'VigilDiskFillingUp', 'VigilDiskAlmostFull', 'VigilTLSCertExpiringSoon',
    'VigilMySQLPromotionPerformed', 'VigilPostgresReplicationLagHigh', 'VigilPostgresReplicationStopped', 'VigilProbeFlapping']) {
    assert.ok(names.includes(n), `missing alert ${n}`);
  }
  const exprOf = (n: string) => alertRules().filter((r) => r.alert === n).map((r) => r.expr).join('\n');
  assert.match(exprOf('VigilAgentDown'), /up\{job="vigil"\} == 0/);
  assert.match(exprOf('VigilAgentDown'), /absent\(up\{job="vigil"\}\)/);
  assert.match(exprOf('VigilDiskFillingUp'), /predict_linear\(/);
  assert.equal(alertRules().find((r) => r.alert === 'VigilMySQLPromotionPerformed')?.labels?.severity, 'info');
});

test('every alert has a promtool case where it fires and one where it stays silent', () => {
  const doc = parseYaml(read(RULES_TEST_FILE)) as {
    tests: { alert_rule_test?: { alertname: string; exp_alerts?: { exp_annotations?: Record<string, string> }[] }[] }[];
  };
  const firing = new Set<string>();
  const silent = new Set<string>();
  for (const t of doc.tests) {
    for (const c of t.alert_rule_test ?? []) {
      if ((c.exp_alerts ?? []).length > 0) {
        firing.add(c.alertname);
        for (const a of c.exp_alerts ?? []) {
          assert.ok(a.exp_annotations?.summary && a.exp_annotations.description, `${c.alertname}: a firing case must check the annotations`);
        }
      } else {
        silent.add(c.alertname);
      }
    }
  }
  for (const n of alertNames()) {
    assert.ok(firing.has(n), `${n}: no case where it fires`);
    assert.ok(silent.has(n), `${n}: no case where it stays silent`);
  }
});

test('every recording rule an expression uses is defined in the rules file', () => {
  const recorded = new Set(loadRuleGroups().flatMap((g) => g.rules).map((r) => r.record).filter(Boolean));
  for (const e of ruleExpressions()) {
    for (const m of e.expr.matchAll(/\bvigil:[\w:]+/g)) {
      assert.ok(recorded.has(m[0]), `${e.source} uses ${m[0]}, which no rule records`);
    }
  }
});

test('alert and recording rules use only metrics vigil exports', () => {
  const recorded = new Set(loadRuleGroups().flatMap((g) => g.rules).map((r) => r.record as string).filter(Boolean));
  for (const e of ruleExpressions()) {
    for (const n of metricNames(e.expr)) {
      assert.ok(ALLOWED_METRICS.has(n) || recorded.has(n), `${e.source}: unknown metric ${n}`);
    }
  }
});

test('examples/alertmanager.yml names only alerts that exist', () => {
  const names = alertNames();
  for (const m of read(ALERTMANAGER_EXAMPLE).matchAll(/\bVigil[A-Za-z]+/g)) {
    assert.ok(names.includes(m[0]), `${ALERTMANAGER_EXAMPLE} mentions unknown alert ${m[0]}`);
  }
});

// ------------------------------------------------------------- dashboards

test('there are dashboards to check', () => {
  assert.ok(dashboardFiles().includes('dashboards/vigil-overview.json'));
});

for (const file of dashboardFiles()) {
  test(`${file}: importable, every panel and target on the $datasource variable`, () => {
    const d = loadDashboard(file);
    assert.ok(d.uid && d.title, 'uid and title');
    const vars = d.templating.list;
    const ds = vars.find((v) => v.name === 'datasource');
    assert.equal(ds?.type, 'datasource', 'a datasource variable of type datasource');
    assert.equal(ds?.query, 'prometheus');
    for (const name of ['job', 'instance']) {
      const v = vars.find((x) => x.name === name);
      assert.ok(v, `template variable ${name}`);
      assert.deepEqual(v?.datasource, { type: 'prometheus', uid: DATASOURCE_UID }, `${name} uses $datasource`);
    }
    const ids = new Set<number>();
    for (const p of allPanels(d)) {
      const where = `panel "${p.title}" (id ${p.id})`;
      assert.ok(typeof p.id === 'number' && !ids.has(p.id), `${where}: unique numeric id`);
      ids.add(p.id as number);
      assert.ok(p.title, `${where}: title`);
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: DATASOURCE_UID }, `${where}: datasource`);
      if (p.type === 'row') continue;
      assert.ok((p.targets ?? []).length > 0, `${where}: has queries`);
      for (const t of p.targets ?? []) {
        assert.deepEqual(t.datasource, { type: 'prometheus', uid: DATASOURCE_UID }, `${where} target ${t.refId}: datasource`);
        assert.ok(typeof t.expr === 'string' && t.expr.length > 0, `${where} target ${t.refId}: expr`);
      }
    }
    for (const a of d.annotations?.list ?? []) {
      if (a.builtIn === 1) continue;
      assert.deepEqual(a.datasource, { type: 'prometheus', uid: DATASOURCE_UID }, `annotation "${a.name}": datasource`);
    }
  });

  test(`${file}: panels do not overlap`, () => {
    const d = loadDashboard(file);
    const boxes = d.panels.map((p) => ({ title: p.title, ...(p.gridPos as { x: number; y: number; w: number; h: number }) }));
    for (const b of boxes) assert.ok(b.x >= 0 && b.w > 0 && b.x + b.w <= 24 && b.h > 0, `${b.title}: inside the 24-column grid`);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        assert.ok(!overlap, `"${a.title}" overlaps "${b.title}"`);
      }
    }
  });

  test(`${file}: every query uses only metrics vigil exports and recording rules of the rules file`, () => {
    const d = loadDashboard(file);
    // A dashboard reads a threshold from the rules file rather than repeating its number.
    const recorded = new Set(loadRuleGroups().flatMap((g) => g.rules).map((r) => r.record).filter((x): x is string => typeof x === 'string'));
    for (const e of rawDashboardExpressions(file)) {
      for (const n of metricNames(substituteGrafanaVariables(e.expr))) {
        assert.ok(ALLOWED_METRICS.has(n) || recorded.has(n), `${e.source}: unknown metric ${n}`);
      }
    }
    for (const v of d.templating.list) {
      const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
      if (v.type !== 'query' || !q) continue;
      const m = /^label_values\(\s*([a-zA-Z_:][\w:]*)/.exec(q);
      assert.ok(m, `variable ${v.name}: label_values(metric…, label) query`);
      assert.ok(ALLOWED_METRICS.has(m[1] as string), `variable ${v.name}: unknown metric ${m[1]}`);
    }
  });

  test(`${file}: every panel is described in ${DASHBOARD_DOCS}`, () => {
    const docs = read(DASHBOARD_DOCS);
    const d = loadDashboard(file);
    assert.ok(docs.includes(d.title), `${DASHBOARD_DOCS} mentions dashboard "${d.title}"`);
    for (const p of allPanels(d)) {
      if (p.type === 'row') continue;
      assert.ok(docs.includes(`"${p.title}"`) || docs.includes(`**${p.title}**`) || docs.includes(`### ${p.title}`),
        `${DASHBOARD_DOCS} describes panel "${p.title}"`);
    }
  });
}

// ------------------------------------------------------------ expressions

test('allExpressions() returns every query with Grafana variables substituted', () => {
  const exprs = allExpressions();
  const rules = ruleExpressions().length;
  const dash = dashboardFiles().reduce((n, f) => n + rawDashboardExpressions(f).length, 0);
  assert.equal(exprs.length, rules + dash);
  assert.ok(rules >= 12 && dash >= 20, `rules ${rules}, dashboard queries ${dash}`);
  for (const e of exprs) {
    assert.ok(!e.expr.includes('$'), `${e.source}: unsubstituted variable in ${e.expr}`);
    assert.ok(e.source.length > 0);
  }
  assert.equal(substituteGrafanaVariables('rate(x{job=~"$job",instance=~"${instance}"}[$__rate_interval])'),
    'rate(x{job=~".*",instance=~".*"}[1m])');
  assert.throws(() => substituteGrafanaVariables('x{a="$nope"}'), /unknown Grafana variable \$nope/);
});

test('metricNames() finds metrics and nothing else', () => {
  assert.deepEqual(metricNames('histogram_quantile(0.95, sum by (instance, le) (rate(vigil_probe_duration_seconds_bucket{job=~".*"}[1m])))'),
    ['vigil_probe_duration_seconds_bucket']);
  assert.deepEqual(metricNames('max without (source) (a_b) > on() group_left() scalar(vigil:threshold:x) or up offset 15m').sort(),
    ['a_b', 'up', 'vigil:threshold:x']);
  assert.deepEqual(metricNames('label_replace(vigil_x == 0, "thread", "io", "", "") unless bool 1e3'), ['vigil_x']);
});
