// This agent's membership in one fleet: it publishes which of the fleet's
// probes are critical here (a lease-bound record, rewritten on every health
// state change of those probes), reads the whole fleet in one snapshot
// (when an action asks, and every refresh for the gauges and /status), and
// keeps the slots this agent holds until their release.
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { LeasedKey } from '../coordination/leased-key.js';
import type { FleetHold } from '../remediation/fleet-gate.js';
import { countShare, describeHolders, liveMembers, sharedCauseDetail, type SelfView } from './decide.js';
import { fleetKeys, type FleetKeys, type FleetMemberRecord } from './records.js';
import type { FleetSettings } from './settings.js';
import type { HeldSlot } from './slots.js';
import { errText } from './slots.js';
import { readFleet, type FleetSnapshot } from './snapshot.js';

export interface FleetMetricSetters {
  members(fleet: string, live: number): void;
  share(fleet: string, probe: string, share: number, standDown: boolean): void;
  slotsHeld(fleet: string, held: number): void;
  heldSeconds(fleet: string, seconds: number): void;
  /** The fleet (or, with wholeFleet false, some of its probes) is no longer configured here: its series go, not a stale value. */
  forget(fleet: string, probes: readonly string[], wholeFleet: boolean): void;
}

export interface FleetMemberDeps {
  readonly client: Etcd3;
  readonly prefix: string;
  readonly member: string;
  /** Random per agent process. */
  readonly instance: string;
  /** coordination.lease_ttl: the member record's and the slots' leases. */
  readonly ttlSeconds: number;
  /** How often the fleet is read for the gauges and /status when no action asks. */
  readonly refreshMs: number;
  readonly logger: Logger;
  readonly now: () => number;
  /** True while the probe is critical on this host. */
  readonly critical: (probe: string) => boolean;
  readonly metrics: FleetMetricSetters;
}

/** A slot must be certainly ours for this much longer when the action starts. */
const VALID_MARGIN_MS = 500;

interface Holding { readonly slot: HeldSlot; readonly rule: string; readonly since: number; timer?: NodeJS.Timeout }

export class FleetMember {
  readonly keys: FleetKeys;
  private readonly record: LeasedKey;
  private lastRead: { at: number; snapshot: FleetSnapshot } | undefined;
  private lastError: { at: number; error: string } | undefined;
  private lastAttempt = 0;
  private published: string | undefined;
  private publishing: Promise<void> | undefined;
  private publishAgain = false;
  private refreshing = false;
  private readonly holds = new Map<string, Holding>();
  private readonly standingDown = new Set<string>();
  /** Rules waiting out settle, for /status. */
  readonly settling = new Map<string, { since: number; until: number }>();
  private stopped = false;

  constructor(public settings: FleetSettings, private readonly deps: FleetMemberDeps) {
    this.keys = fleetKeys(deps.prefix, settings.name);
    this.record = new LeasedKey(deps.client, this.keys.member(deps.member), deps.ttlSeconds);
  }

  get name(): string { return this.settings.name; }
  get memberName(): string { return this.deps.member; }
  get instance(): string { return this.deps.instance; }
  get ttlSeconds(): number { return this.deps.ttlSeconds; }
  get client(): Etcd3 { return this.deps.client; }
  get logger(): Logger { return this.deps.logger; }
  now(): number { return this.deps.now(); }

  start(): void {
    void this.publish();
    void this.refresh();
  }

  /** Probes of the fleet critical here now, plus `trigger` (critical by definition when a rule acts on it). */
  selfView(trigger?: string): SelfView {
    const critical = this.settings.watching.filter((p) => this.deps.critical(p));
    if (trigger !== undefined && !critical.includes(trigger)) critical.push(trigger);
    return { member: this.deps.member, critical: critical.sort() };
  }

  probeChanged(probe: string): void {
    if (this.settings.watching.includes(probe)) void this.publish();
  }

  /** Writes this member's record when it differs from the last one written (serialised: the newest state wins). */
  publish(force = false): Promise<void> {
    if (this.publishing) { this.publishAgain = true; return this.publishing; }
    this.publishing = (async () => {
      do {
        this.publishAgain = false;
        if (this.stopped) return;
        const self = this.selfView();
        const body = JSON.stringify([self.critical, this.settings.watching]);
        if (body === this.published && !force) continue;
        const rec: FleetMemberRecord = {
          member: this.deps.member, instance: this.deps.instance, critical: [...self.critical], watching: [...this.settings.watching],
          published_at: new Date(this.deps.now()).toISOString(),
        };
        const out = await this.record.publish(rec);
        // On failure the next refresh finds the record missing or stale and writes it again.
        this.published = out.ok ? body : undefined;
        if (!out.ok) this.noteError(`cannot publish the member record: ${out.detail ?? 'unknown error'}`);
        force = false;
      } while (this.publishAgain);
    })().finally(() => { this.publishing = undefined; });
    return this.publishing;
  }

  /** One snapshot of the fleet; updates the gauges. Throws when etcd cannot be read. */
  async read(): Promise<FleetSnapshot> {
    this.lastAttempt = this.deps.now();
    try {
      const snapshot = await readFleet(this.deps.client, this.keys);
      this.lastRead = { at: this.deps.now(), snapshot };
      if (this.lastError) this.deps.logger.info({ fleet: this.name }, `fleet ${this.name}: etcd readable again`);
      this.lastError = undefined;
      this.applyGauges(snapshot);
      return snapshot;
    } catch (err) {
      this.noteError(`cannot read the fleet from etcd: ${errText(err)}`);
      throw err;
    }
  }

  /** The periodic read; also rewrites this member's record when etcd lost it (an expired lease) or holds an old one. */
  async refresh(): Promise<void> {
    if (this.refreshing || this.stopped) return;
    this.refreshing = true;
    try {
      const snap = await this.read();
      const mine = snap.members.find((m) => m.member === this.deps.member);
      const self = this.selfView();
      if (!mine || mine.instance !== this.deps.instance || JSON.stringify(mine.critical) !== JSON.stringify(self.critical)) await this.publish(true);
    } catch {
      // noted by read(); the next tick tries again
    } finally {
      this.refreshing = false;
    }
  }

  tick(now: number): void {
    let oldest: number | undefined;
    for (const h of this.holds.values()) oldest = oldest === undefined ? h.since : Math.min(oldest, h.since);
    this.deps.metrics.heldSeconds(this.name, oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000));
    if (now - this.lastAttempt >= this.deps.refreshMs) void this.refresh();
  }

  /** Keeps `slot` for `rule` until released (after the action's grace, or at once when it did not act). */
  hold(rule: string, slot: HeldSlot): FleetHold {
    const h: Holding = { slot, rule, since: this.deps.now() };
    this.holds.set(slot.key, h);
    const detail = `slot ${slot.index} of fleet ${this.name}`;
    const done = () => {
      if (this.holds.get(slot.key) === h) this.holds.delete(slot.key);
      clearTimeout(h.timer);
      return slot.release().then(() => this.refresh());
    };
    return {
      detail,
      valid: () => slot.valid(VALID_MARGIN_MS),
      release: (afterMs) => {
        if (h.timer !== undefined || !this.holds.has(slot.key)) return;
        if (afterMs <= 0) { void done(); return; }
        h.timer = setTimeout(() => void done(), afterMs);
        h.timer.unref();
      },
    };
  }

  /** The lease of a held slot was lost (etcd unreachable past the TTL): another member may take it now. */
  slotLost(slot: HeldSlot): void {
    this.deps.logger.error({ fleet: this.name, slot: slot.index, rule: slot.record.rule },
      `fleet ${this.name}: lost slot ${slot.index} (etcd unreachable longer than the lease TTL); another member may remediate meanwhile`);
  }

  private noteError(error: string): void {
    if (!this.lastError) this.deps.logger.warn({ fleet: this.name, err: error }, `fleet ${this.name}: ${error}`);
    this.lastError = { at: this.deps.now(), error };
  }

  private applyGauges(snap: FleetSnapshot): void {
    const m = this.deps.metrics;
    const self = this.selfView();
    m.members(this.name, liveMembers(snap, self).length);
    m.slotsHeld(this.name, snap.slots.length);
    for (const p of this.settings.triggers) {
      const c = countShare(snap, self, p, this.settings);
      m.share(this.name, p, c.share, c.standDown);
      if (c.standDown === this.standingDown.has(p)) continue;
      if (c.standDown) {
        this.standingDown.add(p);
        this.deps.logger.warn({ fleet: this.name, probe: p, critical: c.criticalMembers, live: c.live }, `fleet ${this.name}: standing down on ${p}: ${sharedCauseDetail(c, this.settings)}`);
      } else {
        this.standingDown.delete(p);
        this.deps.logger.info({ fleet: this.name, probe: p, critical: c.criticalMembers, live: c.live }, `fleet ${this.name}: no longer standing down on ${p} (${c.criticalMembers.length} of ${c.live} critical)`);
      }
    }
  }

  status(): Record<string, unknown> {
    const iso = (ms: number) => new Date(ms).toISOString();
    const snap = this.lastRead?.snapshot;
    const self = this.selfView();
    const s = this.settings;
    return {
      max_concurrent: s.maxConcurrent, stand_down_share: s.standDownShare ?? null, min_members: s.minMembers,
      rules: s.rules, watching: s.watching,
      critical_here: self.critical,
      members: snap ? liveMembers(snap, self).map((m) => ({ member: m.member, critical: m.critical })) : null,
      shares: snap ? Object.fromEntries(s.triggers.map((p) => {
        const c = countShare(snap, self, p, s);
        return [p, { critical: c.criticalMembers.length, live: c.live, share: Number(c.share.toFixed(3)), critical_members: c.criticalMembers, applies: c.applies, standing_down: c.standDown }];
      })) : null,
      slots: snap ? snap.slots.map((x) => ({ index: x.index, holder: x.record?.holder ?? null, rule: x.record?.rule ?? null, action: x.record?.action ?? null, probe: x.record?.probe ?? null, since: x.record?.since ?? null })) : null,
      slot_holders: snap && snap.slots.length ? describeHolders(snap.slots) : null,
      held_here: [...this.holds.values()].map((h) => ({ slot: h.slot.index, rule: h.rule, since: iso(h.since), releasing: h.timer !== undefined })),
      settling: [...this.settling.entries()].map(([rule, x]) => ({ rule, since: iso(x.since), until: iso(x.until) })),
      last_read: this.lastRead ? { at: iso(this.lastRead.at), revision: this.lastRead.snapshot.revision } : null,
      last_read_error: this.lastError ? { at: iso(this.lastError.at), error: this.lastError.error } : null,
    };
  }

  /** Releases every slot held here at once and deletes the member record (a clean shutdown is seen without waiting a TTL). */
  async stop(): Promise<void> {
    this.stopped = true;
    const holds = [...this.holds.values()];
    this.holds.clear();
    for (const h of holds) clearTimeout(h.timer);
    await Promise.all(holds.map((h) => h.slot.release()));
    await this.publishing?.catch(() => undefined);
    await this.record.close();
    this.deps.metrics.forget(this.name, this.settings.triggers, true);
  }
}
