// Every fleet this agent's rules name: starts and stops the memberships as
// the config says (reload), wakes them on a probe's state change, reads each
// fleet every refresh, and is the FleetGate the acting path asks for a slot.
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { FleetAnswer, FleetGate, FleetRequest } from '../remediation/fleet-gate.js';
import { acquireSlot } from './guard.js';
import { FleetMember, type FleetMemberDeps } from './member.js';
import type { FleetSettings } from './settings.js';

export type FleetsDeps = Omit<FleetMemberDeps, 'instance'>;

const TICK_MS = 1000;

export class Fleets implements FleetGate {
  /** Random per agent process: tells this process's records and slots from an earlier run's. */
  readonly instance = randomBytes(6).toString('hex');
  private readonly members = new Map<string, FleetMember>();
  private ticker: NodeJS.Timeout | undefined;

  constructor(private readonly deps: FleetsDeps) {}

  /** Joins new fleets, leaves removed ones (their slots released, their records deleted), updates the others in place. */
  async apply(settings: readonly FleetSettings[]): Promise<void> {
    const wanted = new Map(settings.map((s) => [s.name, s]));
    for (const [name, m] of this.members) {
      if (wanted.has(name)) continue;
      this.members.delete(name);
      await m.stop();
    }
    for (const s of settings) {
      const cur = this.members.get(s.name);
      if (!cur) {
        const m = new FleetMember(s, { ...this.deps, instance: this.instance });
        this.members.set(s.name, m);
        m.start();
      } else if (!isDeepStrictEqual(cur.settings, s)) {
        const gone = cur.settings.triggers.filter((p) => !s.triggers.includes(p));
        if (gone.length) this.deps.metrics.forget(s.name, gone, false);
        cur.settings = s;
        void cur.publish();
      }
    }
    if (!this.ticker && this.members.size > 0) {
      this.ticker = setInterval(() => { const now = this.deps.now(); for (const m of this.members.values()) m.tick(now); }, TICK_MS);
      this.ticker.unref();
    }
  }

  names(): string[] { return [...this.members.keys()]; }

  probeChanged(probe: string): void {
    for (const m of this.members.values()) m.probeChanged(probe);
  }

  async acquire(req: FleetRequest): Promise<FleetAnswer> {
    const m = this.members.get(req.fleet.name);
    if (!m) return { ok: false, reason: 'lock_unavailable', detail: `fleet ${req.fleet.name} is not joined on this agent (a reload in progress?)` };
    return acquireSlot(m, req);
  }

  status(): Record<string, unknown> {
    const fleets: Record<string, unknown> = {};
    for (const [name, m] of this.members) fleets[name] = m.status();
    return { member: this.deps.member, fleets };
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    await Promise.all([...this.members.values()].map((m) => m.stop()));
    this.members.clear();
  }
}
