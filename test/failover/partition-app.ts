// The evidence side of the partition lab: what the application saw and what
// the servers said about themselves, recorded while a scenario runs.
//  - Writer: a partition-writer.ts process in a host's namespace; every
//    acknowledged INSERT it reports is kept (a cut host cannot be sampled
//    from outside; its acknowledged writes prove it was still writable).
//  - ReadOnlySampler: from the test process, every ~100 ms, SELECT @@read_only
//    on every database server it can reach, in rounds (one time, every
//    server), to assert "never two writable servers at once".
import { type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import mysql from 'mysql2/promise';

export interface WriteAck {
  readonly id: string;
  readonly seq: number;
  /** host:port the writer is connected to. */
  readonly server: string;
  readonly serverId: number;
  readonly sentAt: number;
  readonly ackedAt: number;
}

export interface WriteError {
  readonly id: string;
  readonly seq: number;
  readonly sentAt: number;
  readonly at: number;
  readonly code: string | null;
  readonly message: string;
}

/** The lab's handle on one writer process. */
export class Writer {
  readonly acks: WriteAck[] = [];
  readonly errors: WriteError[] = [];

  /** `child` was spawned with stdout piped (the reports); its stderr goes wherever the lab put it. */
  constructor(readonly name: string, readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const o = JSON.parse(line) as { kind: string } & WriteAck & WriteError;
        if (o.kind === 'ack') this.acks.push(o); else this.errors.push(o);
      } catch { /* not a report line */ }
    });
  }

  running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }

  /** Acks acknowledged at or after `t` (ms since epoch). */
  acksSince(t: number): WriteAck[] { return this.acks.filter((a) => a.ackedAt >= t); }

  lastAck(): WriteAck | undefined { return this.acks.at(-1); }

  async stop(): Promise<void> {
    if (!this.running()) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }
}

export interface SampleTarget { readonly name: string; readonly host: string; readonly port: number }

/** One round: every server's @@read_only (0 writable, 1 read-only) or null (unreachable / no answer in time). */
export interface ReadOnlyRound { readonly t: number; readonly states: Record<string, 0 | 1 | null> }

const SAMPLE_TIMEOUT_MS = 300;
const EVERY_MS = 100;

export class ReadOnlySampler {
  readonly rounds: ReadOnlyRound[] = [];
  private readonly conns = new Map<string, mysql.Connection>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly targets: readonly SampleTarget[], private readonly creds: { user: string; password: string }) {
    this.loop = this.run();
  }

  private async sample(t: SampleTarget): Promise<0 | 1 | null> {
    try {
      let c = this.conns.get(t.name);
      if (!c) {
        c = await mysql.createConnection({ host: t.host, port: t.port, ...this.creds, connectTimeout: SAMPLE_TIMEOUT_MS });
        c.on('error', () => undefined);
        this.conns.set(t.name, c);
      }
      const [rows] = await c.query({ sql: 'SELECT @@read_only AS ro', timeout: SAMPLE_TIMEOUT_MS });
      return Number((rows as Array<{ ro: number }>)[0].ro) === 0 ? 0 : 1;
    } catch {
      this.conns.get(t.name)?.destroy();
      this.conns.delete(t.name);
      return null;
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      const t = Date.now();
      const values = await Promise.all(this.targets.map((x) => this.sample(x)));
      this.rounds.push({ t, states: Object.fromEntries(this.targets.map((x, i) => [x.name, values[i]])) });
      await new Promise((r) => setTimeout(r, Math.max(0, t + EVERY_MS - Date.now())));
    }
  }

  /** Rounds in which two or more servers answered read_only = 0. */
  twoWritable(): ReadOnlyRound[] {
    return this.rounds.filter((r) => Object.values(r.states).filter((v) => v === 0).length >= 2);
  }

  /** Names writable in the last round. */
  writableNow(): string[] {
    const last = this.rounds.at(-1);
    return last ? Object.entries(last.states).filter(([, v]) => v === 0).map(([k]) => k) : [];
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    for (const c of this.conns.values()) c.destroy();
    this.conns.clear();
  }
}
