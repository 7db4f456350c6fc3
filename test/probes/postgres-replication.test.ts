// postgres_replication and postgres_heartbeat against real PostgreSQL: a
// primary and a streaming standby made with pg_basebackup (test/harness/postgres.ts),
// twice, so the 30-second idle scenario runs beside the others:
//   A: an idle primary for 30 s → the heartbeat lag stays small, while
//      now() - pg_last_xact_replay_timestamp() (postgres_exporter's lag) grows
//      without writes; then a standby that leaves loses its series;
//   B: the shipped examples with their documented grants; healthy; a missing
//      heartbeat table and a role without pg_monitor; on the primary; a wrong
//      password; replay paused; and the primary SIGKILLed, in a running agent
//      whose /metrics must lint clean throughout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Agent } from '../../src/agent.js';
import { parseConfigText } from '../../src/config/load.js';
import { INITIAL_HEALTH } from '../../src/health/tracker.js';
import { createMetrics } from '../../src/metrics/catalogue.js';
import { ProbeMetrics } from '../../src/metrics/probe-metrics.js';
import type { ProbeResult } from '../../src/probes/types.js';
import { startPostgres, startStandby, waitReplayed, type PostgresServer } from '../harness/postgres.js';
import { buildProbe, observation } from '../helpers/probe.js';
import { sleep, waitUntil } from '../helpers/wait.js';
import { requireBinary } from '../harness/require-binary.js';
import { SingleFlight } from '../../src/probes/single-flight.js';

const MON = { user: 'vigil_monitor', password: 'pg-mon-pw-3317' };
const HB = { user: 'vigil_heartbeat', password: 'pg-hb-pw-8821' };
const probeFrom = (fields: Record<string, unknown>) => buildProbe({ interval: '1s', timeout: '800ms', database: 'postgres', ...fields });
const at = (s: PostgresServer) => ({ address: `${s.host}:${s.port}` });
const hbLag = (r: ProbeResult) => observation(r, 'postgres_replication_lag_seconds');
const bytes = (r: ProbeResult) => observation(r, 'postgres_replay_lag_bytes');

/** Statements as the harness superuser in database `postgres`, where the probes look. */
async function sql(s: PostgresServer, statements: readonly string[]): Promise<void> {
  const client = new pg.Client({ host: s.host, port: s.port, user: s.user, password: s.password, database: 'postgres' });
  await client.connect();
  try { for (const text of statements) await client.query(text); } finally { await client.end(); }
}

/** `promtool check metrics` on a scrape: exit 0 means no parse error and no lint finding. */
function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(requireBinary('promtool', 'prometheus'), ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

const example = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'examples', name), 'utf8');
/** The `#   CREATE …;` / `#   GRANT …;` / `#   ALTER …;` lines of an example's header, with its passwords. */
const documentedGrants = (text: string) => text.split('\n').map((l) => /^#\s+((?:CREATE|GRANT|ALTER) .*;)$/.exec(l)?.[1])
  .filter((s): s is string => s !== undefined)
  .map((s) => s.replace(/(ROLE (\w+) LOGIN PASSWORD )'\.\.\.'/, (_a, head: string, role: string) => `${head}'${role === MON.user ? MON.password : HB.password}'`));

describe('postgres_replication + postgres_heartbeat (real primary + streaming standby)', { concurrency: true }, () => {
  describe('A: an idle primary', { concurrency: 1 }, () => {
    let primary: PostgresServer;
    let standby: PostgresServer;
    before(async () => {
      primary = await startPostgres();
      standby = await startStandby(primary, { name: 'idle-standby' });
      // The other documented grant: the writer may create the schema itself.
      await sql(primary, [`CREATE ROLE ${MON.user} LOGIN PASSWORD '${MON.password}'`, `GRANT pg_monitor TO ${MON.user}`,
        `CREATE ROLE ${HB.user} LOGIN PASSWORD '${HB.password}'`, `GRANT CREATE ON DATABASE postgres TO ${HB.user}`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${HB.user} GRANT USAGE ON SCHEMAS TO ${MON.user}`,
        `ALTER DEFAULT PRIVILEGES FOR ROLE ${HB.user} GRANT SELECT ON TABLES TO ${MON.user}`]);
    });
    after(async () => { await standby?.stop(); await primary?.stop(); });

    it('30 s idle: the heartbeat lag stays small; without writes now() - pg_last_xact_replay_timestamp() grows on a healthy standby', async () => {
      await waitReplayed(primary, standby);
      await sleep(4000); // nothing writes
      const [{ naive }] = await standby.query<{ naive: number }>('SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS naive');
      const bytesOnly = await probeFrom({ type: 'postgres_replication', ...at(standby), ...MON }).run();
      assert.equal(bytesOnly.ok, true, bytesOnly.message);
      assert.equal(bytes(bytesOnly), 0);
      assert.ok(naive > 3.5, `postgres_exporter's lag after 4 s without writes: ${naive}`);

      const writer = probeFrom({ type: 'postgres_heartbeat', ...at(primary), ...HB });
      const first = await writer.run();
      assert.match(first.message ?? '', /^created vigil\.heartbeat and inserted heartbeat row ts /, first.message);
      await waitReplayed(primary, standby);
      const reader = probeFrom({ type: 'postgres_replication', ...at(standby), ...MON, heartbeat: true, max_lag: '3s' });
      const lags: number[] = [];
      const failures: string[] = [];
      const end = Date.now() + 30_000;
      // Two schedules, as two agents would run them: the writer every second, the reader every second half a second later.
      // Fixed rate, like the scheduler: a slow run (a loaded machine) does not push the next one back.
      const everySecond = async (offsetMs: number, run: () => Promise<void>) => {
        for (let next = Date.now() + offsetMs; next < end; next += 1000) {
          await sleep(Math.max(0, next - Date.now()));
          await run();
        }
      };
      const writing = everySecond(0, async () => { const w = await writer.run(); if (!w.ok) failures.push(`writer: ${w.message}`); });
      await everySecond(500, async () => {
        const r = await reader.run();
        if (!r.ok) failures.push(`${r.reason}: ${r.message}`);
        lags.push(hbLag(r) ?? NaN);
      });
      await writing;
      await writer.close();
      assert.deepEqual(failures, []);
      const sorted = [...lags].sort((a, b) => a - b);
      console.log(`# idle primary 30 s: heartbeat lag median ${sorted[sorted.length >> 1].toFixed(3)} s, max ${sorted[sorted.length - 1].toFixed(3)} s over ${lags.length} runs; `
        + `now() - pg_last_xact_replay_timestamp() after 4 s without writes: ${naive.toFixed(1)} s`);
      // Small means within two writer intervals, whatever else the machine is doing: it never grows with the idle time.
      assert.ok(lags.length >= 28 && sorted[sorted.length - 1] < 2, lags.join(' '));
    });

    it('a standby that leaves the primary loses its series', async () => {
      const registry = new Registry();
      const pm = new ProbeMetrics(createMetrics(registry, { version: 'test' }));
      const view = probeFrom({ type: 'postgres_replication', ...at(primary), ...MON, on_primary: 'pass' });
      const record = async () => {
        const r = await view.run();
        pm.record('pg-primary', 'postgres_replication', r, INITIAL_HEALTH, Date.now());
        return { r, text: await registry.metrics() };
      };
      const seen = await record();
      assert.equal(seen.r.ok, true, seen.r.message);
      assert.match(seen.text, /vigil_postgres_standby_state\{probe="pg-primary",standby="idle-standby",client="127\.0\.0\.1",state="streaming"\} 1/);
      assert.match(seen.text, /vigil_postgres_standby_lag_bytes\{probe="pg-primary",standby="idle-standby",client="127\.0\.0\.1",lag="replay"\} 0/);
      await standby.stop();
      const gone = await waitUntil('the primary to see no standby', async () => {
        const s = await record();
        return observation(s.r, 'postgres_standbys') === 0 ? s : undefined;
      });
      assert.equal(gone.r.ok, true);
      assert.match(gone.r.message ?? '', /no standby connected/);
      assert.doesNotMatch(gone.text, /idle-standby/);
      assert.match(gone.text, /vigil_postgres_standbys\{probe="pg-primary"\} 0/);
    });
  });

  describe('B: failures, and the examples in a running agent', { concurrency: 1 }, () => {
    let primary: PostgresServer;
    let standby: PostgresServer;
    let dir: string;
    let agent: Agent | undefined;
    let base = '';
    let writer: ReturnType<typeof probeFrom>;
    before(async () => {
      primary = await startPostgres();
      standby = await startStandby(primary, { name: 'standby-b' });
      dir = await mkdtemp(join(tmpdir(), 'vigil-pg-repl-'));
      const grants = documentedGrants(example('vigil-postgres-primary.yaml'));
      assert.ok(grants.length >= 6, grants.join('\n'));
      await sql(primary, grants);
      writer = probeFrom({ type: 'postgres_heartbeat', ...at(primary), ...HB });
    });
    after(async () => {
      await agent?.stop();
      await writer?.close();
      await standby?.stop();
      await primary?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const standbyProbe = (extra: Record<string, unknown> = {}) => probeFrom({ type: 'postgres_replication', ...at(standby), ...MON, ...extra });
    const scrape = async () => (await fetch(`${base}/metrics`)).text();

    async function runExample(file: string, server: PostgresServer): Promise<Record<string, ProbeResult>> {
      let text = example(file);
      for (const [secret, pw] of [['pg-monitor-password', MON.password], ['pg-heartbeat-password', HB.password]]) {
        await writeFile(join(dir, secret), `${pw}\n`, { mode: 0o600 });
        text = text.replaceAll(`/etc/vigil/${secret}`, join(dir, secret));
      }
      text = text.replaceAll('127.0.0.1:5432', `127.0.0.1:${server.port}`).replaceAll('/var/lib/postgresql', server.dir);
      const loaded = parseConfigText(text, Agent.loadOptions({}));
      assert.ok(loaded.ok, `${file}: ${JSON.stringify(!loaded.ok && loaded.problems)}`);
      const results: Record<string, ProbeResult> = {};
      for (const cfg of loaded.config.probes) {
        const probe = cfg.definition.create(cfg, { logger: pino({ level: 'silent' }), singleFlight: new SingleFlight() });
        results[cfg.name] = await probe.run(AbortSignal.timeout(cfg.timeoutMs));
        await probe.close?.();
        assert.equal(results[cfg.name].ok, true, `${file} ${cfg.name}: ${results[cfg.name].reason} ${results[cfg.name].message}`);
      }
      return results;
    }

    it('the examples pass with the grants their header gives', async () => {
      const p = await runExample('vigil-postgres-primary.yaml', primary);
      assert.match(p['pg-heartbeat'].message ?? '', /^created vigil\.heartbeat and inserted/);
      assert.match(p['pg-replication'].message ?? '', /primary \(on_primary: pass\); 1 standby: standby-b@127\.0\.0\.1 streaming\/async/);
      await waitReplayed(primary, standby);
      const s = await runExample('vigil-postgres-standby.yaml', standby);
      assert.match(s['pg-replication'].message ?? '', /standby: WAL receiver streaming from 127\.0\.0\.1:\d+, .*heartbeat lag \d/);
    });

    it('healthy, in a running agent: passing, lag near 0, /metrics lints clean', async () => {
      const every = { interval: '1s', timeout: '800ms', failures_before_critical: 3, database: 'postgres' };
      const config = { probes: [
        { name: 'pg-heartbeat', type: 'postgres_heartbeat', ...at(primary), ...HB, ...every },
        { name: 'pg-standby', type: 'postgres_replication', ...at(standby), ...MON, ...every, heartbeat: true, max_lag: '30s' },
        { name: 'pg-primary', type: 'postgres_replication', ...at(primary), ...MON, ...every, on_primary: 'pass' },
      ] };
      const loaded = parseConfigText(JSON.stringify(config), Agent.loadOptions({}));
      if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
      agent = new Agent({ configFile: '(test)', config: loaded.config, env: {}, logger: pino({ level: 'silent' }), version: 'test',
        listenOverride: { host: '127.0.0.1', port: 0 } });
      base = await agent.start();
      const text = await waitUntil('all three probes passing', async () => {
        const t = await scrape();
        return ['pg-heartbeat', 'pg-standby', 'pg-primary'].every((p) => t.includes(`vigil_probe_state{probe="${p}",state="passing"} 1`)) ? t : undefined;
      }, { timeoutMs: 15_000, intervalMs: 100 });
      const lint = await promtoolCheck(text);
      assert.equal(lint.code, 0, lint.output);
      assert.match(text, /vigil_postgres_wal_receiver_streaming\{probe="pg-standby"\} 1/);
      assert.match(text, /vigil_postgres_standby_sync_state\{probe="pg-primary",standby="standby-b",client="127\.0\.0\.1",sync_state="async"\} 1/);

      const probe = standbyProbe({ heartbeat: true, max_lag: '3s', max_lag_bytes: '1MiB' });
      const runs: ProbeResult[] = [];
      for (let i = 0; i < 10; i++) runs.push(await probe.run());
      for (const r of runs) assert.equal(r.ok, true, r.message);
      const r = runs[0];
      // The agent's writer runs every 1 s: near 0 means within two of its intervals, plus half a second for a
      // freshly started agent's first runs on a loaded machine (1.6 s seen in a full CI run). A stopped writer or
      // replay grows past it within seconds (test A bounds the idle case, the SIGKILL test the stopped one).
      assert.ok(hbLag(r)! >= 0 && hbLag(r)! < 2.5, `heartbeat lag ${hbLag(r)}`);
      assert.ok(bytes(r)! < 64 * 1024, `replay lag ${bytes(r)} bytes`);
      assert.equal(observation(r, 'postgres_wal_receiver_streaming'), 1);
      assert.equal(observation(r, 'postgres_replay_paused'), 0);
      const ms = runs.map((x) => x.durationSeconds * 1000).sort((a, b) => a - b);
      console.log(`# postgres_replication (heartbeat) healthy run: median ${ms[5].toFixed(1)} ms, max ${ms[9].toFixed(1)} ms; ${r.message}`);
    });

    it('a missing heartbeat table is lag_unknown with a NaN sample; a role without pg_monitor is auth', async () => {
      const missing = await standbyProbe({ heartbeat: { table: 'nope' } }).run();
      assert.equal(missing.reason, 'lag_unknown', missing.message);
      assert.match(missing.message ?? '', /heartbeat lag unknown: heartbeat read failed: SQLSTATE 42P01/);
      assert.ok(Number.isNaN(hbLag(missing)), 'NaN, never a missing series');
      await sql(primary, [`CREATE ROLE vigil_plain LOGIN PASSWORD 'plain-pw-12'`]);
      await waitReplayed(primary, standby);
      const plain = await standbyProbe({ user: 'vigil_plain', password: 'plain-pw-12' }).run();
      assert.equal(plain.reason, 'auth', plain.message);
      assert.match(plain.message ?? '', /hidden from this role: GRANT pg_monitor/);
    });

    it('on the primary: on_primary fail | pass; the writer on the standby: on_read_only fail | pass; wrong password → auth', async () => {
      const failing = await probeFrom({ type: 'postgres_replication', ...at(primary), ...MON, heartbeat: true }).run();
      assert.equal(failing.reason, 'replication_stopped', failing.message);
      assert.match(failing.message ?? '', /not in recovery: this server is a primary \(on_primary: fail\); 1 standby: standby-b/);
      assert.equal(observation(failing, 'postgres_wal_receiver_streaming'), 0);
      const ro = await probeFrom({ type: 'postgres_heartbeat', ...at(standby), ...HB }).run();
      assert.equal(ro.reason, 'readonly', ro.message);
      assert.match(ro.message ?? '', /is a standby \(in recovery\): cannot write the heartbeat/);
      assert.equal((await probeFrom({ type: 'postgres_heartbeat', ...at(standby), ...HB, on_read_only: 'pass' }).run()).ok, true);
      for (const type of ['postgres_replication', 'postgres_heartbeat']) {
        const r = await probeFrom({ type, ...at(standby), user: MON.user, password: 'wrong-pg-pw-90' }).run();
        assert.equal(r.reason, 'auth', `${type}: ${r.message}`);
        assert.match(r.message ?? '', /28P01/);
        assert.doesNotMatch(r.message ?? '', /wrong-pg-pw-90|pg-mon-pw/);
      }
    });

    it('replay paused: byte lag and heartbeat lag rise, threshold past max_lag', async () => {
      const probe = standbyProbe({ heartbeat: true, max_lag: '1s', max_lag_bytes: '1MiB' });
      const secondsOnly = standbyProbe({ heartbeat: true, max_lag: '1s' });
      await standby.query('SELECT pg_wal_replay_pause()');
      try {
        await waitUntil('replay paused', async () => (await standby.query<{ s: string }>('SELECT pg_get_wal_replay_pause_state() AS s'))[0].s === 'paused');
        await primary.query("CREATE TABLE bulk AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 20000) AS g");
        const first = await waitUntil('more than 1 MiB received and not replayed', async () => {
          const r = await probe.run();
          return (bytes(r) ?? 0) > 1024 * 1024 && (hbLag(r) ?? 0) > 1 ? r : undefined;
        }, { timeoutMs: 10_000, intervalMs: 200 });
        assert.equal(first.reason, 'threshold', first.message);
        assert.match(first.message ?? '', /to replay exceeds max_lag_bytes 1\.0 MiB, replay paused .*heartbeat lag [\d.]+s exceeds max_lag 1\.00s/);
        assert.equal(observation(first, 'postgres_replay_paused'), 1);
        assert.equal(observation(first, 'postgres_wal_receiver_streaming'), 1, 'still streaming: only replay stopped');
        await primary.query("INSERT INTO bulk SELECT g, repeat('y', 100) FROM generate_series(1, 5000) AS g");
        await sleep(700);
        const later = await secondsOnly.run();
        assert.equal(later.reason, 'threshold', later.message);
        assert.ok(hbLag(later)! > hbLag(first)! + 0.5 && bytes(later)! > bytes(first)!,
          `rising: heartbeat ${hbLag(first)} → ${hbLag(later)} s, bytes ${bytes(first)} → ${bytes(later)}`);
        console.log(`# replay paused: heartbeat lag ${hbLag(first)!.toFixed(2)} → ${hbLag(later)!.toFixed(2)} s, replay lag ${bytes(first)} → ${bytes(later)} bytes`);
      } finally {
        await standby.query('SELECT pg_wal_replay_resume()');
      }
      await waitReplayed(primary, standby);
      await writer.run();
      const healed = await waitUntil('passing again', async () => { const r = await probe.run(); return r.ok ? r : undefined; }, { intervalMs: 200 });
      assert.equal(observation(healed, 'postgres_replay_paused'), 0);
    });

    it('primary SIGKILLed: replication_stopped, heartbeat lag rising, series present; critical in the agent', async () => {
      const probe = standbyProbe({ heartbeat: true, max_lag: '30s' });
      assert.equal((await probe.run()).ok, true);
      const t0 = Date.now();
      process.kill(primary.pid()!, 'SIGKILL');
      const first = await waitUntil('replication_stopped', async () => { const r = await probe.run(); return r.reason === 'replication_stopped' ? r : undefined; },
        { intervalMs: 100 });
      const detected = Date.now() - t0;
      await sleep(1000);
      const later = await probe.run();
      assert.equal(later.reason, 'replication_stopped', later.message);
      assert.ok(hbLag(later)! > hbLag(first)! + 0.8, `heartbeat lag ${hbLag(first)} → ${hbLag(later)}`);
      assert.equal(observation(later, 'postgres_wal_receiver_streaming'), 0);
      const text = await waitUntil('pg-standby critical', async () => {
        const t = await scrape();
        return t.includes('vigil_probe_state{probe="pg-standby",state="critical"} 1') ? t : undefined;
      }, { timeoutMs: 15_000, intervalMs: 50 });
      const critical = Date.now() - t0;
      console.log(`# primary SIGKILL → standby probe replication_stopped after ${detected} ms, agent's probe critical after ${critical} ms: ${later.message}`);
      const lint = await promtoolCheck(text);
      assert.equal(lint.code, 0, lint.output);
      assert.match(text, /vigil_postgres_wal_receiver_streaming\{probe="pg-standby"\} 0/);
      assert.match(text, /vigil_postgres_replication_lag_seconds\{probe="pg-standby"\} [1-9]/);
      assert.match(text, /vigil_probe_last_failure_info\{probe="pg-standby",type="postgres_replication",reason="replication_stopped"\} 1/);
      const dead = await waitUntil('pg-primary unreadable', async () => {
        const t = await scrape();
        return /vigil_probe_last_failure_info\{probe="pg-primary",type="postgres_replication",reason="connect_refused"\} 1/.test(t) ? t : undefined;
      }, { timeoutMs: 5_000, intervalMs: 100 });
      assert.match(dead, /vigil_postgres_standby_lag_bytes\{probe="pg-primary",standby="standby-b",client="127\.0\.0\.1",lag="replay"\} (NaN|Nan)$/m);
      assert.equal((await promtoolCheck(dead)).code, 0);
    });
  });
});
