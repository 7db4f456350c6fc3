// Requests through the group lab's HAProxy, one after another on fresh
// connections, for as long as a takeover runs: which member's app answered
// each, and when. What a client in front of the load balancer saw, for the
// test's "HAProxy sends traffic to the new active member" and the
// benchmark's through-HAProxy downtime.
import { sleep } from '../helpers/wait.js';
import type { GroupLab, Through } from './group-lab.js';

export interface Sample { readonly sentAt: number; readonly at: number; readonly r: Through }

export class ThroughWatch {
  readonly samples: Sample[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  private constructor(private readonly lab: GroupLab, private readonly everyMs: number) {
    this.loop = this.run();
  }

  /** Starts at once; each request waits at most 1 s (a cut server's connect times out inside HAProxy first). */
  static start(lab: GroupLab, everyMs = 25): ThroughWatch { return new ThroughWatch(lab, everyMs); }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const sentAt = Date.now();
      const r = await this.lab.through(1000);
      this.samples.push({ sentAt, at: Date.now(), r });
      await sleep(this.everyMs);
    }
  }

  /** The first request sent at or after `t` that `member`'s app answered. */
  firstServedBy(member: string, t: number): Sample | undefined {
    return this.samples.find((s) => s.sentAt >= t && s.r.ok && s.r.member === member);
  }

  /** Requests sent in [from, to) that no app answered. */
  failedBetween(from: number, to: number): Sample[] {
    return this.samples.filter((s) => s.sentAt >= from && s.sentAt < to && !s.r.ok);
  }

  /** Requests sent at or after `t` that an app other than `member`'s answered. */
  servedByOthersAfter(member: string, t: number): Sample[] {
    return this.samples.filter((s) => s.sentAt >= t && s.r.ok && s.r.member !== member);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}
