// The database probes inside a real running Agent, on real MariaDB
// replication: /metrics passes `promtool check metrics` while healthy, while
// a replica's lag is NaN (SQL thread stopped) and after the primary died;
// and how long a SIGKILLed primary takes to turn mysql_replication critical
// with interval 1s and failures_before_critical 3 (printed for the record).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pino from 'pino';
import { Agent } from '../../src/agent.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMariaTopology, type MariaTopology } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';
import { requireBinary } from '../harness/require-binary.js';

interface ProbeView { state: string; last_result: { ok: boolean; reason?: string; message?: string; duration_seconds: number } | null }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// prom-client spells NaN "Nan"; Prometheus parses floats case-insensitively (promtool below proves it).

function promtoolCheck(promtool: string, text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

describe('database probes in a running agent (real MariaDB, promtool)', () => {
  let topo: MariaTopology;
  let agent: Agent;
  let base: string;
  let promtool: string;

  before(async () => {
    promtool = requireBinary('promtool', 'prometheus');
    topo = await startMariaTopology({ replicas: 1 });
    const creds = { user: topo.admin.user, password: '${VIGIL_DB_PASSWORD}' };
    const every = { interval: '1s', timeout: '800ms', failures_before_critical: 3 };
    const primary = `127.0.0.1:${topo.primary.port}`;
    const replica = `127.0.0.1:${topo.replicas[0].port}`;
    const config = {
      probes: [
        { name: 'primary-heartbeat', type: 'mysql_heartbeat', address: primary, ...creds, ...every },
        { name: 'replica-mysql', type: 'mysql', address: replica, ...creds, ...every },
        { name: 'replica-replication', type: 'mysql_replication', address: replica, ...creds, ...every, heartbeat: true, max_lag: '30s' },
        { name: 'replica-lag-tight', type: 'mysql_replication', address: replica, ...creds, ...every, heartbeat: true, max_lag: '1s' },
        { name: 'replica-replication-sbm', type: 'mysql_replication', address: replica, ...creds, ...every, max_lag: '2s' },
        { name: 'replica-datadir', type: 'disk', path: join(topo.dir, 'replica1', 'data'), interval: '5s' },
        // Nothing listens here: a failing postgres probe's series must lint clean too.
        { name: 'pg-down', type: 'postgres', address: `127.0.0.1:${await freePort()}`, user: 'vigil', password: 'x', ...every },
      ],
    };
    const env = { VIGIL_DB_PASSWORD: topo.admin.password };
    const loaded = parseConfigText(JSON.stringify(config), Agent.loadOptions(env));
    if (!loaded.ok) throw new Error(`config rejected: ${JSON.stringify(loaded.problems)}`);
    agent = new Agent({ configFile: '(test)', config: loaded.config, env, logger: pino({ level: 'silent' }), version: 'test',
      listenOverride: { host: '127.0.0.1', port: 0 } });
    base = await agent.start();
  });
  after(async () => {
    await agent?.stop();
    await topo?.stop();
  });

  const status = async (): Promise<Record<string, ProbeView>> => ((await (await fetch(`${base}/status`)).json()) as { probes: Record<string, ProbeView> }).probes;
  const scrape = async () => (await fetch(`${base}/metrics`)).text();

  async function waitStatus(what: string, timeoutMs: number, ok: (p: Record<string, ProbeView>) => boolean): Promise<Record<string, ProbeView>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await status();
      if (ok(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s, null, 1)}`);
      await sleep(50);
    }
  }

  async function assertLints(text: string, when: string): Promise<void> {
    const res = await promtoolCheck(promtool, text);
    assert.equal(res.code, 0, `promtool check metrics (${when}) exited ${res.code}: ${res.output}`);
  }

  const databaseProbes = ['primary-heartbeat', 'replica-mysql', 'replica-replication', 'replica-lag-tight', 'replica-replication-sbm'];

  it('healthy: every database probe passes and /metrics lints clean', async () => {
    const s = await waitStatus('all database probes passing, pg-down failed once', 15_000,
      (p) => databaseProbes.every((n) => p[n]?.state === 'passing') && p['pg-down']?.last_result?.reason === 'connect_refused');
    const text = await scrape();
    await assertLints(text, 'healthy');
    assert.match(text, /vigil_mysql_replication_lag_seconds\{probe="replica-replication",channel="default",source="heartbeat"\} \d/);
    assert.match(text, /vigil_mysql_replica_thread_state\{probe="replica-replication",channel="default",thread="io",state="running"\} 1/);
    assert.match(text, /vigil_db_connect_duration_seconds\{probe="replica-mysql"\} \d/);
    assert.match(text, /vigil_mysql_heartbeat_last_write_timestamp_seconds\{probe="primary-heartbeat"\} \d/);
    assert.match(text, /vigil_db_query_duration_seconds\{probe="pg-down"\} (NaN|Nan)$/m);
    for (const n of databaseProbes) console.log(`# in the agent, ${n}: ${(s[n].last_result!.duration_seconds * 1000).toFixed(1)} ms`);
  });

  it('SQL thread stopped: lag is NaN (not missing) and /metrics still lints clean', async () => {
    await topo.replicas[0].query('STOP REPLICA SQL_THREAD');
    try {
      await waitStatus('threshold from heartbeat, replication_stopped from SBM', 10_000, (p) =>
        p['replica-lag-tight']?.last_result?.reason === 'threshold' && p['replica-replication-sbm']?.last_result?.reason === 'replication_stopped');
      const text = await scrape();
      await assertLints(text, 'lag NaN');
      assert.match(text, /vigil_mysql_replication_lag_seconds\{probe="replica-replication-sbm",channel="default",source="seconds_behind"\} (NaN|Nan)$/m);
      assert.match(text, /vigil_mysql_replica_sql_running\{probe="replica-replication-sbm",channel="default"\} 0/);
      assert.match(text, /vigil_probe_last_failure_info\{probe="replica-lag-tight",type="mysql_replication",reason="threshold"\} 1/);
      assert.match(text, /vigil_mysql_replication_lag_seconds\{probe="replica-lag-tight",channel="default",source="heartbeat"\} [1-9]/);
    } finally {
      await topo.replicas[0].query('START REPLICA SQL_THREAD');
    }
    await waitStatus('replication probes passing again', 15_000, (p) => databaseProbes.every((n) => p[n]?.state === 'passing'));
  });

  it('primary SIGKILLed: mysql_replication turns critical (interval 1s, failures_before_critical 3)', async () => {
    const t0 = Date.now();
    await topo.primary.kill('SIGKILL');
    let firstFailure: number | undefined;
    const s = await waitStatus('replica-replication critical', 15_000, (p) => {
      if (firstFailure === undefined && p['replica-replication']?.last_result?.ok === false) firstFailure = Date.now() - t0;
      return p['replica-replication']?.state === 'critical';
    });
    const critical = Date.now() - t0;
    console.log(`# primary SIGKILL → replica-replication first failing result after ${firstFailure} ms, critical after ${critical} ms `
      + `(${s['replica-replication'].last_result?.reason}: ${s['replica-replication'].last_result?.message})`);
    assert.equal(s['replica-replication'].last_result?.reason, 'replication_stopped');
    await waitStatus('heartbeat writer critical', 10_000, (p) => p['primary-heartbeat']?.state === 'critical');
    // The first reconnect may still see the dying server (2013, connection reset); then 2003 (refused).
    const errno2003 = /vigil_mysql_replica_last_errno\{probe="replica-replication",channel="default",thread="io"\} 2003/;
    let text = await scrape();
    for (let i = 0; i < 50 && !errno2003.test(text); i++) { await sleep(100); text = await scrape(); }
    await assertLints(text, 'primary dead');
    assert.match(text, errno2003);
    assert.match(text, /vigil_mysql_replica_thread_state\{probe="replica-replication",channel="default",thread="io",state="connecting"\} 1/);
    assert.match(text, /vigil_mysql_replication_lag_seconds\{probe="replica-replication",channel="default",source="seconds_behind"\} (NaN|Nan)$/m);
    assert.match(text, /vigil_probe_failures_total\{probe="primary-heartbeat",type="mysql_heartbeat",reason="connect_refused"\} [1-9]/);
  });
});
