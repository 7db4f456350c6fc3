// The agent's own database server, as failover sees it: measured every loop
// (state + replication lag), changed only through `change()`. Lag is kept
// from the last reading taken while the IO thread was connected, because
// the moment failover needs it the source is gone and the server reports
// NULL: "last known lag before the primary was lost" is the number that
// tells how much the replica may be missing. It is kept in state_dir too: an
// agent restarted while the primary is down still knows it.
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { createFresh } from '../state/safe-files.js';
import { MysqlConnector, type MysqlLink, type MysqlTarget } from './connection.js';
import { ReplicaStatusReader } from './replica-status.js';
import { heartbeatLag, readHeartbeats, type HeartbeatTable } from './heartbeat-table.js';
import { readServerState, type ServerState } from './server-state.js';
import { detectFlavor, fenceLocal, killClientSessions } from './fencing.js';

export interface Measurement {
  readonly at: number;
  readonly state?: ServerState;
  /** Why the server could not be read (message from the MySQL driver, no secrets). */
  readonly error?: string;
}

export interface LagMemory { readonly seconds: number; readonly at: number; readonly source: 'heartbeat' | 'seconds_behind' }

export interface LocalServerOptions {
  readonly target: MysqlTarget;
  /** When set, lag comes from this pt-heartbeat table (the source's row), else from Seconds_Behind_Master. */
  readonly heartbeat?: HeartbeatTable;
  readonly timeoutMs: number;
  readonly now: () => number;
  /** Where the last lag is kept across restarts (state_dir); none in tests that do not need it. */
  readonly lagFile?: string;
}

const LAG_SAVE_EVERY_MS = 5000;

function loadLag(file: string | undefined): LagMemory | undefined {
  if (!file) return undefined;
  try {
    // Never through a link planted in state_dir.
    const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    let text: string;
    try { text = readFileSync(fd, 'utf8'); } finally { closeSync(fd); }
    const v = JSON.parse(text) as Partial<LagMemory>;
    return typeof v.seconds === 'number' && typeof v.at === 'number' && (v.source === 'heartbeat' || v.source === 'seconds_behind')
      ? { seconds: v.seconds, at: v.at, source: v.source } : undefined;
  } catch {
    return undefined; // first start, or a torn write: the lag is unknown, which the lag gate refuses
  }
}

export class LocalServer {
  // Kept open between loops: a reading every 500 ms should not cost a login each time.
  private readonly reading: MysqlConnector;
  // A second kept connection, only for fencing: when the lease is lost the
  // fence must not wait behind a reading nor pay a login (a stalled host and
  // its mysqld wake up together; every millisecond takes writes).
  private readonly fencing: MysqlConnector;
  private readonly reader = new ReplicaStatusReader();
  private lag: LagMemory | undefined;
  private last: Measurement | undefined;
  private saved: LagMemory | undefined;
  private saving = false;

  constructor(private readonly opts: LocalServerOptions) {
    this.reading = new MysqlConnector(opts.target, true);
    this.fencing = new MysqlConnector(opts.target, true);
    this.lag = loadLag(opts.lagFile);
    this.saved = this.lag;
  }

  get target(): MysqlTarget { return this.opts.target; }
  get statusReader(): ReplicaStatusReader { return this.reader; }
  lastMeasurement(): Measurement | undefined { return this.last; }
  lastLag(): LagMemory | undefined { return this.lag; }

  async measure(): Promise<Measurement> {
    const at = this.opts.now();
    const res = await this.reading.run(AbortSignal.timeout(this.opts.timeoutMs), this.opts.timeoutMs, async (link) => {
      const state = await readServerState(link, this.reader);
      const lag = await this.measureLag(link, state);
      return { state, lag };
    });
    if (!res.ok) {
      this.last = { at, error: res.message };
      return this.last;
    }
    if (res.value.lag !== undefined) this.lag = { ...res.value.lag, at };
    // A server that stopped being a replica (promoted, reset) has no lag to remember.
    if (!res.value.state.replica) this.lag = undefined;
    this.last = { at, state: res.value.state };
    this.save();
    return this.last;
  }

  /** Writes the lag memory when it changed by a second or more, or got 5 s older; atomically (rename). */
  private save(): void {
    const file = this.opts.lagFile;
    const lag = this.lag;
    const prev = this.saved;
    if (!file || this.saving || !lag) return;
    if (prev && Math.abs(prev.seconds - lag.seconds) < 1 && lag.at - prev.at < LAG_SAVE_EVERY_MS) return;
    this.saving = true;
    const tmp = `${file}.tmp`;
    createFresh(tmp).then(async (fh) => { try { await fh.writeFile(JSON.stringify(lag)); } finally { await fh.close(); } })
      .then(() => rename(tmp, file))
      .then(() => { this.saved = lag; }, () => undefined) // an unwritable state_dir only costs the memory across restarts
      .finally(() => { this.saving = false; });
  }

  private async measureLag(link: MysqlLink, state: ServerState): Promise<Omit<LagMemory, 'at'> | undefined> {
    const r = state.replica;
    if (!r || r.io !== 'running') return undefined;
    if (this.opts.heartbeat) {
      try {
        const hb = heartbeatLag(r, await readHeartbeats(link, this.opts.heartbeat), this.opts.heartbeat);
        return hb.seconds === null ? undefined : { seconds: Math.round(hb.seconds * 10) / 10, source: 'heartbeat' };
      } catch {
        return undefined; // no table yet: the lag stays unknown, which the lag gate refuses
      }
    }
    return r.sql === 'running' && r.secondsBehind !== null ? { seconds: r.secondsBehind, source: 'seconds_behind' } : undefined;
  }

  /**
   * Runs statements that change the server, on a fresh connection with its
   * own deadline (a promotion must not queue behind a hung reading).
   */
  async change<T>(timeoutMs: number, body: (link: MysqlLink) => Promise<T>, signal?: AbortSignal): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
    const connector = new MysqlConnector(this.opts.target, false);
    const deadline = AbortSignal.timeout(timeoutMs);
    const res = await connector.run(signal ? AbortSignal.any([deadline, signal]) : deadline, Math.min(timeoutMs, 5000), body);
    await connector.close();
    return res.ok ? { ok: true, value: res.value } : { ok: false, error: res.message };
  }

  /** Opens (or checks) the fencing connection ahead of need; cheap, so the primary does it every loop. */
  async readyFence(): Promise<void> {
    await this.fencing.run(AbortSignal.timeout(this.opts.timeoutMs), this.opts.timeoutMs, (link) => link.query('SELECT 1'));
  }

  /**
   * read_only (super_read_only on MySQL), then kill the sessions read_only
   * stops, on the kept fencing connection; once more on a fresh one if that
   * connection had died.
   */
  async fence(timeoutMs: number): Promise<{ ok: true; statements: string[]; killed: number } | { ok: false; error: string }> {
    const body = async (link: MysqlLink) => {
      const flavor = this.last?.state?.flavor ?? await detectFlavor(link);
      const statements = await fenceLocal(link, flavor);
      return { statements, killed: await killClientSessions(link) };
    };
    const deadline = Date.now() + timeoutMs;
    let res = await this.fencing.run(AbortSignal.timeout(timeoutMs), timeoutMs, body);
    if (!res.ok && deadline - Date.now() > 50) {
      const fresh = new MysqlConnector(this.opts.target, false);
      const left = deadline - Date.now();
      res = await fresh.run(AbortSignal.timeout(left), left, body);
      await fresh.close();
    }
    return res.ok ? { ok: true, ...res.value } : { ok: false, error: res.message };
  }

  async close(): Promise<void> {
    await this.reading.close();
    await this.fencing.close();
  }
}
