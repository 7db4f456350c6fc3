// mysql_replication and mysql_heartbeat against real MariaDB GTID replication:
// healthy, SQL thread stopped while the primary keeps writing, a broken
// multi-source channel, a server that is no replica, missing grants and
// heartbeat table, and finally a SIGKILLed primary. Series never go missing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import type { ProbeResult } from '../../src/probes/types.js';
import { startMariaTopology, type MariaTopology } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';
import { buildProbe, observation } from '../helpers/probe.js';

const probeFrom = (fields: Record<string, unknown>) => buildProbe({ interval: '1s', timeout: '800ms', ...fields });

const lag = (r: ProbeResult, source: string, channel = 'default') => observation(r, 'mysql_replication_lag_seconds', { channel, source });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, timeoutMs: number, run: () => Promise<ProbeResult>, ok: (r: ProbeResult) => boolean): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await run();
    if (ok(r)) return r;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last result: ${r.reason} ${r.message}`);
    await sleep(100);
  }
}

/**
 * A TCP path that can go silent: while stalled it swallows bytes both ways
 * and keeps the connections open, like a link that black-holes packets. The
 * replica's IO thread notices only after slave_net_timeout (2 s in the harness).
 */
async function startStallingProxy(port: number): Promise<{ port: number; stall(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let stalled = false;
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on('data', (d: Buffer) => { if (!stalled) to.write(d); });
      from.on('error', () => to.destroy()).on('close', () => { sockets.delete(from); to.destroy(); });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    stall: () => { stalled = true; },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

describe('mysql_replication + mysql_heartbeat (real MariaDB primary + replica)', () => {
  let topo: MariaTopology;
  const mon = { user: 'vigil_mon', password: 'mon-pw-4411' };
  const hbUser = { user: 'vigil_hb', password: 'hb-pw-9911' };
  let writer: ReturnType<typeof probeFrom>;
  let replica: string;
  let primary: string;

  before(async () => {
    topo = await startMariaTopology({ replicas: 1 });
    replica = `127.0.0.1:${topo.replicas[0].port}`;
    primary = `127.0.0.1:${topo.primary.port}`;
    // Least privilege, as docs/probes-database.md tells operators to grant.
    await topo.primary.query('CREATE USER ?@? IDENTIFIED BY ?', [mon.user, '127.0.0.1', mon.password]);
    await topo.primary.query('GRANT SLAVE MONITOR ON *.* TO ?@?', [mon.user, '127.0.0.1']);
    await topo.primary.query('GRANT SELECT ON vigil.* TO ?@?', [mon.user, '127.0.0.1']);
    await topo.primary.query('CREATE USER ?@? IDENTIFIED BY ?', [hbUser.user, '127.0.0.1', hbUser.password]);
    await topo.primary.query('GRANT CREATE, SELECT, INSERT, UPDATE ON vigil.* TO ?@?', [hbUser.user, '127.0.0.1']);
    writer = probeFrom({ type: 'mysql_heartbeat', address: primary, ...hbUser });
  });
  after(async () => {
    await writer?.probe.close?.();
    await topo?.stop();
  });

  const replicaProbe = (extra: Record<string, unknown> = {}) => probeFrom({ type: 'mysql_replication', address: replica, ...mon, ...extra });

  it('the heartbeat writer creates the pt-heartbeat table and writes its row', async () => {
    const first = await writer.run();
    assert.equal(first.ok, true, first.message);
    assert.match(first.message ?? '', /created vigil\.heartbeat and inserted heartbeat row server_id 1/);
    const second = await writer.run();
    assert.match(second.message ?? '', /^updated heartbeat row server_id 1 ts \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6} /);
    const ts = observation(second, 'mysql_heartbeat_last_write_timestamp_seconds');
    assert.ok(ts !== undefined && Math.abs(ts - Date.now() / 1000) < 2);
    const [cols] = await topo.primary.query<{ c: string }>(
      "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='vigil' AND TABLE_NAME='heartbeat'");
    assert.equal(cols.c, 'ts,server_id,file,position,relay_master_log_file,exec_master_log_pos');
    console.log(`# mysql_heartbeat write: ${(second.durationSeconds * 1000).toFixed(1)} ms`);
  });

  it('healthy replica: threads running, lag ≈ 0 from both sources', async () => {
    await writer.run();
    await topo.waitReplicaCaughtUp(topo.replicas[0]);
    const hb = replicaProbe({ heartbeat: true, max_lag: '2s' });
    const r = await hb.run();
    assert.equal(r.ok, true, r.message);
    const hbLag = lag(r, 'heartbeat');
    assert.ok(hbLag !== undefined && hbLag >= 0 && hbLag < 1.5, `heartbeat lag ${hbLag}`);
    assert.equal(lag(r, 'seconds_behind'), 0);
    assert.equal(observation(r, 'mysql_replica_io_running', { channel: 'default' }), 1);
    assert.equal(observation(r, 'mysql_replica_sql_running', { channel: 'default' }), 1);
    assert.equal(observation(r, 'mysql_replica_thread_state', { channel: 'default', thread: 'io', state: 'running' }), 1);
    assert.equal(observation(r, 'mysql_replica_last_errno', { channel: 'default', thread: 'io' }), 0);
    const sbm = await replicaProbe({ max_lag: '2s' }).run();
    assert.equal(sbm.ok, true, sbm.message);
    assert.equal(lag(sbm, 'heartbeat'), undefined, 'no heartbeat configured: no heartbeat series');
    // max_lag is exported, so the alert and the dashboards compare with the probe's own line.
    assert.equal(observation(r, 'mysql_replication_max_lag_seconds'), 2);
    assert.equal(observation(await replicaProbe({}).run(), 'mysql_replication_max_lag_seconds'), undefined, 'none without max_lag');
    const runs: number[] = [];
    for (let i = 0; i < 10; i++) runs.push((await hb.run()).durationSeconds * 1000);
    runs.sort((a, b) => a - b);
    console.log(`# mysql_replication (heartbeat) healthy run: median ${runs[5].toFixed(1)} ms, max ${runs[9].toFixed(1)} ms; message: ${r.message}`);
  });

  it('SQL thread stopped while the primary writes: heartbeat lag rises past max_lag (threshold), SBM NULL (replication_stopped)', async () => {
    const hb = replicaProbe({ heartbeat: true, max_lag: '1s' });
    const sbm = replicaProbe({ max_lag: '1s' });
    await topo.replicas[0].query('STOP REPLICA SQL_THREAD');
    try {
      for (let i = 0; i < 6; i++) { await writer.run(); await sleep(250); }
      const a = await hb.run();
      assert.equal(a.ok, false);
      assert.equal(a.reason, 'threshold', a.message);
      const lagA = lag(a, 'heartbeat')!;
      assert.ok(lagA > 1, `heartbeat lag ${lagA}`);
      assert.ok(Number.isNaN(lag(a, 'seconds_behind')), 'SBM series present with NaN');
      assert.equal(observation(a, 'mysql_replica_sql_running', { channel: 'default' }), 0);
      assert.equal(observation(a, 'mysql_replica_io_running', { channel: 'default' }), 1);
      assert.equal(observation(a, 'mysql_replica_thread_state', { channel: 'default', thread: 'sql', state: 'stopped' }), 1);
      await sleep(300);
      const b = await hb.run();
      assert.ok(lag(b, 'heartbeat')! > lagA, 'heartbeat lag keeps rising while replication is stopped');

      const s = await sbm.run();
      assert.equal(s.reason, 'replication_stopped', s.message);
      assert.match(s.message ?? '', /SQL thread stopped/);
      assert.ok(Number.isNaN(lag(s, 'seconds_behind')), 'NULL is exported as NaN, the series does not vanish');
      console.log(`# SQL thread stopped: heartbeat probe → ${a.reason} (${a.message}); SBM probe → ${s.reason}`);
    } finally {
      await topo.replicas[0].query('START REPLICA SQL_THREAD');
    }
    await topo.waitReplicaCaughtUp(topo.replicas[0]);
    await writer.run();
    await until('healthy again', 5_000, () => hb.run(), (r) => r.ok);
  });

  it('a silently stalled link: both threads "running" and Seconds_Behind_Master 0, yet heartbeat lag passes max_lag', async () => {
    const r0 = topo.replicas[0];
    const proxy = await startStallingProxy(topo.primary.port);
    await r0.query('STOP REPLICA');
    await r0.query(`CHANGE MASTER TO MASTER_PORT=${proxy.port}`);
    await r0.query('START REPLICA');
    try {
      const hb = replicaProbe({ heartbeat: true, max_lag: '500ms' });
      const sbm = replicaProbe({ max_lag: '500ms' });
      await until('replicating through the proxy', 10_000, async () => { await writer.run(); return hb.run(); }, (r) => r.ok);
      proxy.stall();
      for (let i = 0; i < 4; i++) { await writer.run(); await sleep(200); }
      const [a, s] = [await hb.run(), await sbm.run()];
      // Inside slave_net_timeout the replica has not noticed anything:
      assert.equal(observation(a, 'mysql_replica_io_running', { channel: 'default' }), 1, a.message);
      assert.equal(observation(a, 'mysql_replica_sql_running', { channel: 'default' }), 1);
      assert.equal(lag(a, 'seconds_behind'), 0);
      assert.equal(s.ok, true, `judged by Seconds_Behind_Master alone, all looks fine: ${s.message}`);
      assert.equal(a.reason, 'threshold', a.message);
      assert.ok(lag(a, 'heartbeat')! > 0.5);
      console.log(`# stalled link: heartbeat probe → ${a.reason} (${a.message}); SBM-only probe → ok (${s.message})`);
    } finally {
      await proxy.close();
      await r0.query('STOP REPLICA');
      await r0.query(`CHANGE MASTER TO MASTER_PORT=${topo.primary.port}`);
      await r0.query('START REPLICA');
    }
    await writer.run();
    await topo.waitReplicaCaughtUp(r0);
  });

  it('multi-source: a broken extra connection is reported on its own channel and fails the probe', async () => {
    const r0 = topo.replicas[0];
    await r0.query(`CHANGE MASTER 'extra' TO MASTER_HOST='127.0.0.1', MASTER_PORT=${await freePort()},
      MASTER_USER='nobody', MASTER_PASSWORD='x', MASTER_CONNECT_RETRY=1`);
    await r0.query("START REPLICA 'extra'");
    try {
      const probe = replicaProbe({ heartbeat: true });
      const r = await until('extra channel connecting', 5_000, () => probe.run(),
        (x) => observation(x, 'mysql_replica_last_errno', { channel: 'extra', thread: 'io' }) === 2003);
      assert.equal(r.reason, 'replication_stopped', r.message);
      assert.equal(observation(r, 'mysql_replica_thread_state', { channel: 'extra', thread: 'io', state: 'connecting' }), 1);
      assert.equal(observation(r, 'mysql_replica_io_running', { channel: 'default' }), 1);
      assert.ok(Number.isNaN(lag(r, 'heartbeat', 'extra')));
      assert.ok(Number.isFinite(lag(r, 'heartbeat', 'default')));
      assert.match(r.message ?? '', /default: IO and SQL threads running.*extra: IO thread connecting \(Last_IO_Errno 2003/);
    } finally {
      await r0.query("STOP REPLICA 'extra'");
      await r0.query("RESET REPLICA 'extra' ALL");
    }
  });

  it('a server with no replica status: on_primary pass or fail', async () => {
    const pass = await probeFrom({ type: 'mysql_replication', address: primary, ...mon, on_primary: 'pass' }).run();
    assert.equal(pass.ok, true, pass.message);
    const failed = await probeFrom({ type: 'mysql_replication', address: primary, ...mon }).run();
    assert.equal(failed.reason, 'replication_stopped');
    assert.match(failed.message ?? '', /not a replica \(on_primary: fail\)/);
  });

  it('a missing heartbeat table makes the lag unknown (lag_unknown), with the server\'s reason', async () => {
    const r = await replicaProbe({ heartbeat: { database: 'vigil', table: 'nope' } }).run();
    assert.equal(r.reason, 'lag_unknown', r.message);
    assert.match(r.message ?? '', /ER_NO_SUCH_TABLE \(1146\)/);
    assert.ok(Number.isNaN(lag(r, 'heartbeat')));
    assert.equal(lag(r, 'seconds_behind'), 0);
  });

  it('a user without SLAVE MONITOR → auth, naming the privilege', async () => {
    await topo.primary.query("CREATE USER 'vigil_nopriv'@'127.0.0.1' IDENTIFIED BY 'np'");
    await topo.waitReplicaCaughtUp(topo.replicas[0]);
    const r = await probeFrom({ type: 'mysql_replication', address: replica, user: 'vigil_nopriv', password: 'np' }).run();
    assert.equal(r.reason, 'auth', r.message);
    assert.match(r.message ?? '', /1227/);
  });

  // Last: it kills the primary.
  it('primary SIGKILLed: IO thread connecting, replication_stopped, Last_IO_Errno 2003, heartbeat lag keeps rising', async () => {
    const probe = replicaProbe({ heartbeat: true, max_lag: '30s' });
    await writer.run();
    await topo.waitReplicaCaughtUp(topo.replicas[0]);
    const before = await probe.run();
    assert.equal(before.ok, true, before.message);
    const t0 = Date.now();
    await topo.primary.kill('SIGKILL');
    const r = await until('IO thread connecting with errno 2003', 10_000, () => probe.run(),
      (x) => observation(x, 'mysql_replica_thread_state', { channel: 'default', thread: 'io', state: 'connecting' }) === 1
        && observation(x, 'mysql_replica_last_errno', { channel: 'default', thread: 'io' }) === 2003);
    console.log(`# primary SIGKILL → probe saw IO connecting/2003 after ${Date.now() - t0} ms: ${r.message}`);
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'replication_stopped');
    assert.equal(observation(r, 'mysql_replica_io_running', { channel: 'default' }), 0);
    assert.ok(Number.isNaN(lag(r, 'seconds_behind')), 'SBM NULL → NaN, series kept');
    const hbLag = lag(r, 'heartbeat')!;
    assert.ok(Number.isFinite(hbLag), 'heartbeat lag is still measurable without the primary');
    await sleep(500);
    assert.ok(lag(await probe.run(), 'heartbeat')! > hbLag, 'and it keeps rising');
    const w = await writer.run();
    assert.equal(w.reason, 'connect_refused', 'the writer on the dead primary fails: the primary is not writable');
  });
});
