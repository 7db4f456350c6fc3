// The primary's side of the lease: the agent of the member the record names
// keeps <cluster>/primary_lease under a lease of its own, and its server
// takes writes only while that lease is held. When a renewal cannot be
// confirmed before the renew deadline (etcd unreachable, no quorum, this
// process stalled), the guard fences its own server — read_only, the
// sessions read_only stops killed, on_fence run — before any replica can
// see the key expire (the timing rule in coordination/lease-timing.ts).
// When the server itself is dead the key is released at once, so a plain
// mysqld crash fails over in about the detection time, not a TTL.
import type { Etcd3 } from 'etcd3';
import { LeaderLease, type CurrentHolder } from '../coordination/leader-lease.js';
import { worstCaseActingMs } from '../coordination/lease-timing.js';
import type { ClusterKeys, PrimaryLeaseRecord } from '../coordination/cluster-records.js';
import type { ClusterSnapshot } from '../coordination/cluster-snapshot.js';
import { unfenceLocal } from '../mysql/fencing.js';
import type { LocalServer, Measurement } from '../mysql/local-server.js';
import type { FailoverSettings } from './settings.js';

export interface GuardDeps {
  readonly client: Etcd3;
  readonly keys: ClusterKeys;
  readonly me: string;
  readonly settings: FailoverSettings;
  readonly local: LocalServer;
  readonly now: () => number;
  readonly note: (kind: string, ok: boolean, detail: string, outcome?: 'none' | 'withheld') => void;
  readonly onFenced: (fenced: boolean) => void;
  /** Runs the on_fence hook (if configured) with the reason; never throws. */
  readonly runOnFence: (why: string) => Promise<void>;
  readonly setHeld: (held: boolean) => void;
  /** While remediation is paused, a read_only primary is left read_only (an operator may have set it). */
  readonly paused: () => boolean;
}

const CHANGE_TIMEOUT_MS = 5000;

function holderName(h: CurrentHolder): string | undefined {
  try { return (JSON.parse(h.value.toString('utf8')) as { member?: string }).member; } catch { return undefined; }
}

export class PrimaryGuard {
  private readonly lease: LeaderLease;
  private fencing: Promise<void> | undefined;
  private lastRefusal: string | undefined;
  private acquiredAt: number | undefined;

  constructor(private readonly d: GuardDeps) {
    this.lease = new LeaderLease({
      client: d.client, key: d.keys.primaryLease, timing: d.settings.primaryLease,
      onLost: (why) => { d.setHeld(false); void this.fenceForLoss(why); },
    });
  }

  get instance(): string { return this.lease.instance; }
  holding(): boolean { return this.lease.held(); }

  /** One member loop's part: hold, release or seek the lease, and keep the server's writability in step with it. */
  async step(snap: ClusterSnapshot, m: Measurement): Promise<void> {
    const rec = snap.primary;
    const { me } = this.d;
    if (!rec || rec.value.name !== me) {
      if (this.lease.held()) {
        await this.lease.release();
        this.d.setHeld(false);
        this.d.note('lease_released', true, `the record names ${rec?.value.name ?? 'nobody'}: released the primary lease`);
      }
      return;
    }
    if (!m.state) {
      if (this.lease.held()) {
        // Nothing of ours takes writes any more: let a replica take over in the detection time, not a TTL.
        await this.lease.release();
        this.d.setHeld(false);
        this.d.note('lease_released', true, `local server unreachable (${m.error ?? 'no answer'}): released the primary lease at once so that a replica can be promoted`);
      }
      return;
    }
    if (this.lease.held()) {
      await this.d.local.readyFence().catch(() => undefined);
      if (m.state.readOnly) await this.unfence('holding the primary lease');
      return;
    }
    if (this.fencing) return; // a fence for a lost lease is still running: finish it first
    const value: PrimaryLeaseRecord = {
      member: me, instance: this.lease.instance, epoch: rec.value.epoch, host: this.d.settings.advertise.host, port: this.d.settings.advertise.port,
      ttl_ms: this.d.settings.primaryLease.ttlMs, renew_deadline_ms: this.d.settings.primaryLease.renewDeadlineMs,
      acquired_at: new Date(this.d.now()).toISOString(),
    };
    // Our own key (this process earlier, or the process before a restart) is ours to take over.
    // Held in the same transaction: the record still names us, as read.
    const got = await this.lease.acquire(JSON.stringify(value), (h) => holderName(h) === me, [{ key: this.d.keys.primary, modRevision: rec.modRevision }]);
    if (got.ok) {
      this.d.setHeld(true);
      this.acquiredAt = this.d.now();
      this.lastRefusal = undefined;
      this.d.note('lease_acquired', true, `holding ${this.d.keys.primaryLease} (ttl ${value.ttl_ms / 1000}s, renew deadline ${value.renew_deadline_ms / 1000}s) at epoch ${rec.value.epoch}`);
      if (m.state.readOnly) await this.unfence('acquired the primary lease');
      return;
    }
    const why = got.holder ? `${this.d.keys.primaryLease} is held by ${holderName(got.holder) ?? 'an unreadable value'}` : got.detail;
    if (why !== this.lastRefusal) this.d.note('lease_refused', false, `cannot hold the primary lease: ${why}`, 'none');
    this.lastRefusal = why;
    // Writable without the lease is exactly what must not be: fence until it is held.
    if (!m.state.readOnly) await this.fenceNow(`writable without the primary lease (${why})`);
  }

  /**
   * A loop that could not read etcd: a server taking writes without the
   * lease has no way to get it, so it stops (a held lease is the deadline's
   * business). Without this, a primary caught between holdings by a
   * partition would stay writable for as long as the partition lasts.
   */
  async withoutEtcd(m: Measurement, why: string): Promise<void> {
    if (this.lease.held() || this.fencing || !m.state || m.state.readOnly) return;
    await this.fenceNow(`writable without the primary lease and etcd is unreachable (${why})`);
  }

  private async unfence(why: string): Promise<void> {
    if (this.d.paused()) {
      if (this.lastRefusal !== 'paused') this.d.note('unfence', true, `withheld (remediation is paused): would lift read_only (${why})`, 'withheld');
      this.lastRefusal = 'paused';
      return;
    }
    if (this.lastRefusal === 'paused') this.lastRefusal = undefined;
    const flavor = this.d.local.lastMeasurement()?.state?.flavor ?? 'mariadb';
    const res = await this.d.local.change(CHANGE_TIMEOUT_MS, (link) => unfenceLocal(link, flavor));
    // The lease may have been lost while the statement ran: never leave the server writable then.
    if (!this.lease.held()) { await this.fenceNow('the lease was lost while lifting read_only'); return; }
    if (res.ok) this.d.onFenced(false);
    this.d.note('unfence', res.ok, res.ok ? `${why}: the local server takes writes (${res.value.join('; ')})` : `${why} but read_only could not be lifted (${res.error})`);
  }

  private async fenceNow(why: string): Promise<void> {
    const t0 = performance.now();
    const res = await this.d.local.fence(this.d.settings.primaryLease.fenceWithinMs);
    const ms = Math.round(performance.now() - t0);
    if (res.ok) this.d.onFenced(true);
    this.d.note('fence', res.ok, res.ok
      ? `${why}: set the local server read_only in ${ms} ms (${res.statements.join('; ')}; killed ${res.killed} client session${res.killed === 1 ? '' : 's'})`
      : `${why}: could NOT set the local server read_only within ${ms} ms (${res.error})`);
  }

  /** The lease was lost (deadline passed or etcd said so): fence first, then tell, then free the key. */
  private fenceForLoss(why: string): Promise<void> {
    this.fencing ??= (async () => {
      await this.fenceNow(`lost the primary lease: ${why}`);
      await this.d.runOnFence(why);
      // Fenced: the key may go now, the others need not wait for its TTL.
      await this.lease.release();
    })().finally(() => { this.fencing = undefined; });
    return this.fencing;
  }

  /** Stops renewing (a clean shutdown): the key expires one TTL later, or the next process of this member takes it over. */
  async stop(): Promise<void> {
    await this.fencing;
    this.lease.abandon();
    this.d.setHeld(false);
  }

  status(): Record<string, unknown> {
    const held = this.lease.held();
    return {
      held,
      remaining_ms: held ? Math.round(this.lease.remainingMs()) : null,
      acquired_at: held && this.acquiredAt ? new Date(this.acquiredAt).toISOString() : null,
      last_loss: this.lease.lastLossReason() ?? null,
      last_refusal: this.lastRefusal ?? null,
      worst_case_writes_after_cut_ms: worstCaseActingMs(this.d.settings.primaryLease),
    };
  }
}
