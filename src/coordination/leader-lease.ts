// A leader's lease-bound key in etcd, renewed on a schedule of our own, with
// a deadline that the holder enforces on itself (see lease-timing.ts):
// when no renewal sent within the last renew_deadline has succeeded, the
// holder is told to stop acting (onLost), well before etcd can expire the
// key and let anyone else take over.
//
// Why not etcd3's autoKeepAlive: it renews at ttl/3 and reports a loss only
// when etcd says the lease is gone, i.e. when someone else may already be
// acting. The deadline here is counted from when a renewal was SENT, on the
// monotonic clock and on the wall clock (a stall, a stopped process, a
// paused VM trips whichever notices first), and checked again on every call
// to held(), so a process that wakes up late learns it first.
import { randomBytes } from 'node:crypto';
import type { Etcd3, Lease } from 'etcd3';
import type { LeaseTiming } from './lease-timing.js';

export interface LeaseClock { mono(): number; wall(): number }

export const systemClock: LeaseClock = { mono: () => performance.now(), wall: () => Date.now() };

export interface LeaderLeaseOptions {
  readonly client: Etcd3;
  readonly key: string;
  readonly timing: LeaseTiming;
  /** Called once per holding, from a timer or from held(), the moment the holder must stop acting. */
  readonly onLost: (why: string) => void;
  readonly clock?: LeaseClock;
}

export interface CurrentHolder { readonly value: Buffer; readonly modRevision: string; readonly lease: string }

export type AcquireResult =
  /** revision: etcd's revision of the winning write (the key's create revision when it was created): a fencing token. */
  | { readonly ok: true; readonly revision: string }
  | { readonly ok: false; readonly detail: string; readonly holder?: CurrentHolder };

/** An extra condition of the acquiring transaction (e.g. "the primary record is still at this revision"). */
export interface Precondition { readonly key: string; readonly modRevision: string | undefined }

function errText(err: unknown): string {
  return err instanceof Error ? err.message.replace(/\s+/g, ' ').slice(0, 200) : String(err);
}

export class LeaderLease {
  /** Random per process: written into the value so a restarted holder can tell its old key from a clone's. */
  readonly instance = randomBytes(6).toString('hex');
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  /** The lease of a lost holding, kept so release() can still revoke it once the fence is done. */
  private lostLease: Lease | undefined;
  private holding = false;
  private renewedMono = 0;
  private renewedWall = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private lastLoss: string | undefined;
  private revision = '0';
  private readonly clock: LeaseClock;

  constructor(private readonly o: LeaderLeaseOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /**
   * True while holding and within the deadline. A holder that finds itself
   * past its deadline (it was stalled) loses the lease here, before the
   * caller can act on a stale answer.
   */
  held(): boolean {
    if (!this.holding) return false;
    this.checkDeadline();
    return this.holding;
  }

  /** ms until the holder must have stopped acting (negative: past it). */
  remainingMs(): number {
    if (!this.holding) return 0;
    const d = this.o.timing.renewDeadlineMs;
    return Math.min(this.renewedMono + d - this.clock.mono(), this.renewedWall + d - this.clock.wall());
  }

  lastLossReason(): string | undefined { return this.lastLoss; }

  /** ms since the last successful renewal (or the acquisition) was sent; undefined when not holding. */
  renewedAgoMs(): number | undefined {
    return this.holding ? this.clock.mono() - this.renewedMono : undefined;
  }

  /**
   * Creates the key under a new lease of ours if it is absent, or takes it
   * over (compare-and-swap on its revision) when `takeOver` accepts the
   * current holder (our own previous process). Every precondition must hold
   * in the same transaction.
   */
  async acquire(value: string, takeOver: (h: CurrentHolder) => boolean, pre: readonly Precondition[] = []): Promise<AcquireResult> {
    if (this.holding) return { ok: true, revision: this.revision };
    const { client, key } = this.o;
    const sentMono = this.clock.mono();
    const sentWall = this.clock.wall();
    const lease = client.lease(this.o.timing.ttlMs / 1000, { autoKeepAlive: false });
    lease.on('lost', () => undefined); // the deadline decides, not this event
    let id: string;
    try {
      id = await lease.grant();
    } catch (err) {
      lease.release();
      return { ok: false, detail: `cannot get a lease from etcd: ${errText(err)}` };
    }
    const withPre = (b: ReturnType<Etcd3['if']>) => {
      for (const p of pre) b.and(p.key, p.modRevision === undefined ? 'Create' : 'Mod', '==', p.modRevision ?? 0);
      return b;
    };
    try {
      const first = await withPre(client.if(key, 'Create', '==', 0))
        .then(client.put(key).value(value).lease(id))
        .else(client.get(key))
        .commit();
      let won = first.succeeded;
      let revision = first.header.revision;
      let holder: CurrentHolder | undefined;
      if (!won) {
        const kv = first.responses[0]?.response_range?.kvs[0];
        holder = kv ? { value: kv.value, modRevision: kv.mod_revision, lease: String(kv.lease) } : undefined;
        if (holder && takeOver(holder)) {
          const second = await withPre(client.if(key, 'Mod', '==', holder.modRevision)).then(client.put(key).value(value).lease(id)).commit();
          won = second.succeeded;
          revision = second.header.revision;
        }
      }
      if (!won) {
        await lease.revoke().catch(() => lease.release());
        return { ok: false, holder, detail: holder ? `${key} is held` : 'a precondition changed (someone else wrote first)' };
      }
      this.revision = revision;
    } catch (err) {
      // The put may have landed although the answer was lost: revoking deletes it either way.
      await lease.revoke().catch(() => lease.release());
      return { ok: false, detail: `etcd did not answer: ${errText(err)}` };
    }
    this.lostLease?.release();
    this.lostLease = undefined;
    this.lease = lease;
    this.leaseId = id;
    this.holding = true;
    this.lastLoss = undefined;
    this.renewedMono = sentMono;
    this.renewedWall = sentWall;
    // The grant may itself have taken most of the deadline.
    this.checkDeadline();
    if (!this.holding) return { ok: false, detail: this.lastLoss ?? 'lost at once' };
    this.armDeadline();
    this.scheduleRenew();
    return { ok: true, revision: this.revision };
  }

  /** Rewrites the value under the held lease (e.g. a new epoch). */
  async update(value: string): Promise<boolean> {
    if (!this.held() || !this.leaseId) return false;
    try {
      await this.o.client.put(this.o.key).value(value).lease(this.leaseId);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Gives the lease up: stops renewing and revokes it, so the key disappears
   * at once (only call this once whatever the lease protected has stopped).
   */
  async release(): Promise<void> {
    const lease = this.lease ?? this.lostLease;
    this.stopHolding();
    this.lostLease = undefined;
    if (lease) await lease.revoke().catch(() => lease.release());
  }

  /** Stops renewing without revoking and without onLost (a clean shutdown): the key expires one TTL later. */
  abandon(): void {
    this.stopHolding();
    this.lostLease = undefined;
  }

  /** Stops renewing without revoking: the key expires one TTL later (for a loss, while the fence runs). */
  private stopHolding(): void {
    this.holding = false;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.renewTimer = undefined;
    this.deadlineTimer = undefined;
    this.lease?.release();
    this.lease = undefined;
    this.leaseId = undefined;
  }

  private lose(why: string): void {
    if (!this.holding) return;
    this.lastLoss = why;
    this.lostLease = this.lease;
    this.stopHolding();
    this.o.onLost(why);
  }

  private checkDeadline(): void {
    if (!this.holding) return;
    const left = this.remainingMs();
    if (left <= 0) {
      const since = Math.round(this.o.timing.renewDeadlineMs - left);
      this.lose(`no renewal of ${this.o.key} succeeded within renew_deadline ${this.o.timing.renewDeadlineMs / 1000}s (the last one sent ${since / 1000}s ago)`);
    }
  }

  private armDeadline(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => this.checkDeadline(), Math.max(0, this.remainingMs()) + 1);
  }

  private scheduleRenew(): void {
    this.renewTimer = setTimeout(() => { void this.renew(); }, this.o.timing.renewIntervalMs);
  }

  private async renew(): Promise<void> {
    this.checkDeadline();
    const lease = this.lease;
    if (!this.holding || !lease) return;
    this.scheduleRenew();
    if (this.inFlight) return;
    this.inFlight = true;
    const sentMono = this.clock.mono();
    const sentWall = this.clock.wall();
    let timer: NodeJS.Timeout | undefined;
    try {
      const res = await Promise.race([
        lease.keepaliveOnce(),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('renewal timed out')), this.o.timing.renewDeadlineMs); }),
      ]);
      if (lease !== this.lease) return;
      if (Number(res.TTL) <= 0) { this.lose(`etcd says the lease of ${this.o.key} expired`); return; }
      // An answer that arrives after the deadline does not bring the lease back.
      this.checkDeadline();
      if (!this.holding) return;
      this.renewedMono = sentMono;
      this.renewedWall = sentWall;
      this.armDeadline();
    } catch (err) {
      if (lease === this.lease && /lease not found|expired or revoked/i.test(errText(err))) this.lose(`etcd says the lease of ${this.o.key} is gone`);
      // Otherwise: transport trouble; the deadline decides.
    } finally {
      if (timer) clearTimeout(timer);
      this.inFlight = false;
    }
  }
}
