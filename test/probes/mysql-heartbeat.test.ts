// Interoperability with Percona's pt-heartbeat, both ways, on real MariaDB
// replication: vigil reads the rows `pt-heartbeat --update` writes, and
// `pt-heartbeat --check` reads the rows vigil's mysql_heartbeat writes. Both
// run with TZ set far from UTC, so a local-time/UTC mix-up would show as hours.
// Also: the writer never writes on a read-only server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import type { ProbeResult } from '../../src/probes/types.js';
import { startMariaTopology, type MariaTopology } from '../harness/mariadb.js';
import { requireBinary } from '../harness/require-binary.js';
import { buildProbe } from '../helpers/probe.js';

const probeFrom = (fields: Record<string, unknown>) => buildProbe({ interval: '1s', timeout: '800ms', ...fields });

const heartbeatLag = (r: ProbeResult) =>
  r.observations.find((o) => o.name === 'mysql_replication_lag_seconds' && o.labels?.source === 'heartbeat')?.value;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// UTC+05:30, no DST, as a POSIX TZ string so it works without tzdata: a ts
// read in the wrong zone is off by 19800 s.
const FAR_TZ = 'VIG-5:30';

describe('pt-heartbeat interoperability (real MariaDB primary + replica, percona-toolkit)', () => {
  let topo: MariaTopology;
  let ptHeartbeat: string;
  const children: ChildProcess[] = [];
  let dsn: (port: number) => string[];

  before(async () => {
    ptHeartbeat = requireBinary('pt-heartbeat', 'percona-toolkit');
    topo = await startMariaTopology({ replicas: 1 });
    dsn = (port) => ['--host', '127.0.0.1', '--port', String(port), '--user', topo.admin.user, '--password', topo.admin.password];
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await topo?.stop();
  });

  const replicaProbe = (database: string) => probeFrom({
    type: 'mysql_replication', address: `127.0.0.1:${topo.replicas[0].port}`, ...topo.admin, heartbeat: { database }, max_lag: '5s',
  });

  /** pt-heartbeat's lag, and the bounds it must lie in given when the last write happened. */
  async function ptCheck(extra: string[], lastWriteMs: number): Promise<{ lag: number; min: number; max: number }> {
    const startedMs = Date.now();
    const { stdout } = await promisify(execFile)(ptHeartbeat,
      ['--check', '--database', 'vigil', '--table', 'heartbeat', ...extra, ...dsn(topo.replicas[0].port)],
      { env: { ...process.env, TZ: FAR_TZ }, timeout: 15_000 });
    const lag = Number.parseFloat(stdout.trim());
    assert.ok(Number.isFinite(lag), `pt-heartbeat --check printed ${JSON.stringify(stdout)}`);
    // It reads the row at some moment while it runs (Perl start-up takes a while); allow for
    // replication delay and pt-heartbeat's rounding to 0.01 s.
    return { lag, min: (startedMs - lastWriteMs) / 1000 - 0.2, max: (Date.now() - lastWriteMs) / 1000 + 0.05 };
  }

  it('vigil reads the rows `pt-heartbeat --update --utc` writes, and sees the lag grow when it stops', async () => {
    await topo.primary.query('CREATE DATABASE vigil_pt'); // pt-heartbeat --create-table makes the table, not the database
    const child = spawn(ptHeartbeat, ['--update', '--utc', '--create-table', '--database', 'vigil_pt', '--table', 'heartbeat',
      '--interval', '0.2', ...dsn(topo.primary.port)], { env: { ...process.env, TZ: FAR_TZ }, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    const probe = replicaProbe('vigil_pt');
    let r: ProbeResult | undefined;
    // Perl start-up plus the first replicated write; generous for a loaded machine.
    for (let i = 0; i < 150; i++) {
      await sleep(100);
      assert.equal(child.exitCode, null, `pt-heartbeat exited: ${stderr}`);
      r = await probe.run();
      if (r.ok) break;
    }
    assert.equal(r?.ok, true, `${r?.reason}: ${r?.message}; pt-heartbeat stderr: ${stderr}`);
    const live = heartbeatLag(r!)!;
    assert.ok(live >= 0 && live < 2, `lag while pt-heartbeat writes every 0.2s: ${live}`);
    const [row] = await topo.replicas[0].query<{ ts: string; server_id: number }>('SELECT ts, server_id FROM vigil_pt.heartbeat');
    assert.equal(row.server_id, 1);
    assert.match(row.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    console.log(`# pt-heartbeat --update row ${JSON.stringify(row)}; vigil heartbeat lag ${live.toFixed(3)} s`);

    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
    await sleep(1500);
    // The server's own reading of the row's age (MariaDB parses the ts, UTC), taken just before and after.
    const sqlAge = async () => Number((await topo.replicas[0].query<{ age: string }>(
      'SELECT TIMESTAMPDIFF(MICROSECOND, ts, UTC_TIMESTAMP(6)) / 1e6 AS age FROM vigil_pt.heartbeat WHERE server_id = 1'))[0].age);
    const lo = await sqlAge();
    const stale = heartbeatLag(await probe.run())!;
    const hi = await sqlAge();
    assert.ok(stale >= 1.5 && stale >= lo - 0.01 && stale <= hi + 0.01, `vigil lag ${stale} vs the server's ${lo}..${hi}`);
  });

  it('`pt-heartbeat --check --utc` reads the rows vigil writes (master server_id auto-detected), and sees them age', async () => {
    const writer = probeFrom({ type: 'mysql_heartbeat', address: `127.0.0.1:${topo.primary.port}`, ...topo.admin });
    for (let i = 0; i < 3; i++) { assert.equal((await writer.run()).ok, true); await sleep(100); }
    const lastWrite = Date.now();
    await topo.waitReplicaCaughtUp(topo.replicas[0]);
    const fresh = await ptCheck(['--utc'], lastWrite);
    assert.ok(fresh.lag >= fresh.min && fresh.lag <= fresh.max, `pt-heartbeat --check lag ${fresh.lag} not in [${fresh.min}, ${fresh.max}]`);
    await sleep(1500);
    const aged = await ptCheck(['--utc'], lastWrite);
    assert.ok(aged.lag >= aged.min && aged.lag <= aged.max && aged.lag > 1.5, `aged lag ${aged.lag} not in [${aged.min}, ${aged.max}]`);
    // The pitfall the docs warn about: without --utc pt-heartbeat reads the UTC ts as local time.
    const wrongZone = await ptCheck([], lastWrite);
    const skewed = wrongZone.lag - 19_800;
    assert.ok(skewed >= wrongZone.min && skewed <= wrongZone.max, `without --utc, off by exactly the zone offset: ${wrongZone.lag}`);
    console.log(`# pt-heartbeat --check on vigil's rows: ${fresh.lag} s (expected ${fresh.min.toFixed(2)}–${fresh.max.toFixed(2)}), `
      + `later ${aged.lag} s (expected ${aged.min.toFixed(2)}–${aged.max.toFixed(2)}), without --utc ${wrongZone.lag} s`);
    await writer.probe.close?.();
  });

  it('the writer never writes on a read-only server, even as a user whose privileges would allow it', async () => {
    const gtid = async () => (await topo.replicas[0].query<{ p: string }>('SELECT @@gtid_binlog_pos AS p'))[0].p;
    const before = await gtid();
    const onReplica = { type: 'mysql_heartbeat', address: `127.0.0.1:${topo.replicas[0].port}`, ...topo.admin };
    const failing = await probeFrom(onReplica).run();
    assert.equal(failing.reason, 'readonly', failing.message);
    const passing = await probeFrom({ ...onReplica, on_read_only: 'pass' }).run();
    assert.equal(passing.ok, true, passing.message);
    assert.match(passing.message ?? '', /read-only: not writing/);
    assert.equal(await gtid(), before, 'no errant transaction on the replica');
  });

  it('create_table: false with no table → the write fails with the server\'s reason', async () => {
    const r = await probeFrom({ type: 'mysql_heartbeat', address: `127.0.0.1:${topo.primary.port}`, ...topo.admin,
      database: 'vigil', table: 'absent', create_table: false }).run();
    assert.equal(r.reason, 'query', r.message);
    assert.match(r.message ?? '', /write heartbeat to vigil\.absent .*ER_NO_SUCH_TABLE/);
  });
});
