// Requests through the group lab's HAProxy, a new one on a fresh connection
// every ~25 ms (not waiting for the ones in flight), for as long as a
// takeover runs: which member's app answered each, and when. What clients in
// front of the load balancer saw, for the test's "HAProxy sends traffic to
// the new active member" and the benchmark's through-HAProxy downtime.
// Not one after another: a request HAProxy holds for a dead server (its
// connect retries wait ~1 s) would hide when it started to route elsewhere.
import { sleep } from '../helpers/wait.js';
import type { GroupLab, Through } from './group-lab.js';

export interface Sample { readonly sentAt: number; readonly at: number; readonly r: Through }

/** At most this many requests in flight (each gives up after 2 s): a stalled HAProxy does not pile up sockets. */
const MAX_IN_FLIGHT = 100;

export class ThroughWatch {
  /** In the order they were answered. */
  readonly samples: Sample[] = [];
  private stopped = false;
  /** Requests in flight, with when each was sent. */
  private readonly inFlight = new Map<Promise<void>, number>();
  private readonly loop: Promise<void>;

  private constructor(private readonly lab: GroupLab, private readonly everyMs: number) {
    this.loop = this.run();
  }

  static start(lab: GroupLab, everyMs = 25): ThroughWatch { return new ThroughWatch(lab, everyMs); }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.inFlight.size < MAX_IN_FLIGHT) {
        const sentAt = Date.now();
        const p: Promise<void> = this.lab.through(2000).then((r) => { this.samples.push({ sentAt, at: Date.now(), r }); })
          .finally(() => { this.inFlight.delete(p); });
        this.inFlight.set(p, sentAt);
      }
      await sleep(this.everyMs);
    }
  }

  /** The earliest-sent request sent at or after `t` that `member`'s app answered. */
  firstServedBy(member: string, t: number): Sample | undefined {
    return this.samples.filter((s) => s.sentAt >= t && s.r.ok && s.r.member === member)
      .reduce<Sample | undefined>((a, s) => (a && a.sentAt <= s.sentAt ? a : s), undefined);
  }

  /** Resolves once every request sent before `t` has been answered or given up (each gives up after 2 s). */
  async answeredBefore(t: number): Promise<void> {
    for (;;) {
      const pending = [...this.inFlight].filter(([, sentAt]) => sentAt < t).map(([p]) => p);
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }

  /** Requests sent in [from, to) that no app answered (complete once answeredBefore(to) resolved). */
  failedBetween(from: number, to: number): Sample[] {
    return this.samples.filter((s) => s.sentAt >= from && s.sentAt < to && !s.r.ok);
  }

  /** Requests sent at or after `t` that an app other than `member`'s answered. */
  servedByOthersAfter(member: string, t: number): Sample[] {
    return this.samples.filter((s) => s.sentAt >= t && s.r.ok && s.r.member !== member);
  }

  /** Stops sending; resolves once every request in flight has been answered or given up. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.all([...this.inFlight.keys()]);
  }
}
