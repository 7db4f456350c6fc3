// The timing rule every leader lease in vigil obeys, checked when the config
// is loaded. The holder must have stopped acting as leader (fenced its
// server, stepped down) strictly before any other member can see its key
// expire:
//
//   renew_deadline + fence_within + clock_margin  <=  ttl + takeover_delay
//   renew_deadline >= 2 * renew_interval          (at least two renewals are tried)
//   clock_margin = max(500ms, ttl / 10)           (clock rate differences, scheduling)
//
// The holder counts its deadline from the moment it SENT its last successful
// renewal, so etcd's expiry (counted from when it RECEIVED it) is never
// earlier; an etcd leader change only extends leases. This is the shape of
// Patroni's `loop_wait + 2*retry_timeout <= ttl` and client-go's
// LeaseDuration > RenewDeadline > RetryPeriod, with the fencing time made
// explicit because here the holder must act, not just stop. takeover_delay
// (Consul's lock-delay) is how long the others wait, after the key vanished,
// before they stand: it buys a holder with a slow step-down (an active/standby
// group's on_standby hook) the time the TTL alone does not give.
export interface LeaseTiming {
  readonly ttlMs: number;
  readonly renewIntervalMs: number;
  readonly renewDeadlineMs: number;
  /** How long the holder's fence may take (set read_only, kill sessions; step down). */
  readonly fenceWithinMs: number;
  /** How long the others wait after the key vanished before they may take it (default 0). */
  readonly takeoverDelayMs?: number;
}

/** The config key of each timing field, for messages and error paths. */
export type TimingNames = { readonly [K in keyof typeof FIELD]: string } & { readonly takeoverDelayMs?: string };

export function clockMarginMs(ttlMs: number): number {
  return Math.max(500, ttlMs / 10);
}

/** Every violated part of the rule, each with the key it should be fixed at; empty when the timing is safe. */
export function leaseTimingProblems(t: LeaseTiming, names: TimingNames = FIELD): Array<{ key: keyof typeof FIELD; message: string }> {
  const out: Array<{ key: keyof typeof FIELD; message: string }> = [];
  const s = (ms: number) => `${ms / 1000}s`;
  if (t.ttlMs % 1000 !== 0 || t.ttlMs < 2000) out.push({ key: 'ttlMs', message: 'must be whole seconds, at least 2s (etcd leases count in seconds)' });
  if (t.renewDeadlineMs < 2 * t.renewIntervalMs) {
    out.push({ key: 'renewDeadlineMs', message: `must be at least twice ${names.renewIntervalMs} (${s(t.renewIntervalMs)}) so that one lost renewal does not make the holder step down` });
  }
  const margin = clockMarginMs(t.ttlMs);
  const need = t.renewDeadlineMs + t.fenceWithinMs + margin;
  const delay = t.takeoverDelayMs ?? 0;
  if (need > t.ttlMs + delay) {
    const allowed = delay > 0 ? `${names.ttlMs} ${s(t.ttlMs)} + ${names.takeoverDelayMs ?? 'takeover_delay'} ${s(delay)}` : `${names.ttlMs} ${s(t.ttlMs)}`;
    out.push({ key: 'renewDeadlineMs', message: `${names.renewDeadlineMs} ${s(t.renewDeadlineMs)} + ${names.fenceWithinMs} ${s(t.fenceWithinMs)} + clock margin ${s(margin)} = ${s(need)} `
      + `exceeds ${allowed}: the holder could still be acting when the others see its lease expire; lower ${names.renewDeadlineMs} or raise ${names.ttlMs}`
      + `${names.takeoverDelayMs ? ` or ${names.takeoverDelayMs}` : ''}` });
  }
  return out;
}

/** Config key of each field, for error paths. */
export const FIELD = { ttlMs: 'ttl', renewIntervalMs: 'renew_interval', renewDeadlineMs: 'renew_deadline', fenceWithinMs: 'fence_within' } as const;

/** The longest a cut-off holder may still act after its last successful renewal was sent. */
export function worstCaseActingMs(t: LeaseTiming): number {
  return t.renewDeadlineMs + t.fenceWithinMs;
}
