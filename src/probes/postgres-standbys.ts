// Pure: the primary's WAL senders → series with bounded labels. A standby
// names itself (application_name is whatever its primary_conninfo or
// cluster_name says, and every standby made by `pg_basebackup -R` is called
// "walreceiver"), so label values are cleaned, made unique, and the number
// of standbys with series is capped; the total is always exported.
import { LAG_KINDS, type Walsender } from '../postgres/walsenders.js';
import type { Observation } from './types.js';

export const DEFAULT_STANDBY_SERIES_LIMIT = 16;
export const WALSENDER_STATES = ['startup', 'catchup', 'streaming', 'backup', 'stopping'] as const;
export const SYNC_STATES = ['async', 'potential', 'sync', 'quorum'] as const;
const LABEL_MAX = 63;

/**
 * A label value from peer-chosen text: letters, digits and `_ . : @ -` kept,
 * anything else `_`, at most 63 characters (PostgreSQL's own limit for
 * application_name), and never empty.
 */
export function cleanLabel(text: string | null, fallback: string): string {
  const cleaned = (text ?? '').replace(/[^A-Za-z0-9_.:@-]/g, '_').slice(0, LABEL_MAX);
  return cleaned === '' ? fallback : cleaned;
}

export interface NamedStandby { readonly standby: string; readonly client: string; readonly sender: Walsender }

/**
 * Every WAL sender with its labels, sorted by them. Senders that share name
 * and address (two standbys on one host, both "walreceiver") are told apart
 * by age: the longest-connected keeps the plain name, the next gets "~2", …
 * so a reconnect renames at most the standbys that reconnected.
 */
export function nameStandbys(senders: readonly Walsender[]): NamedStandby[] {
  const groups = new Map<string, { standby: string; client: string; senders: Walsender[] }>();
  for (const s of senders) {
    const standby = cleanLabel(s.applicationName, 'unnamed');
    const client = s.clientAddr === null ? 'local' : cleanLabel(s.clientAddr, 'unknown');
    const key = `${standby}\u0000${client}`;
    const g = groups.get(key) ?? { standby, client, senders: [] };
    g.senders.push(s);
    groups.set(key, g);
  }
  const named: NamedStandby[] = [];
  for (const g of groups.values()) {
    g.senders.sort((a, b) => (a.backendStart ?? Infinity) - (b.backendStart ?? Infinity) || a.pid - b.pid);
    g.senders.forEach((sender, i) => named.push({ standby: i === 0 ? g.standby : `${g.standby}~${i + 1}`, client: g.client, sender }));
  }
  return named.sort((a, b) => (a.standby < b.standby ? -1 : a.standby > b.standby ? 1 : a.client < b.client ? -1 : a.client > b.client ? 1 : 0));
}

/**
 * A lag PostgreSQL shows as NULL: after a standby caught up and no WAL has
 * flowed for a while, the primary stops showing the last lag. That is no
 * lag, but only when the standby streams and holds everything; otherwise
 * the lag is unknown (NaN), never a reassuring 0.
 */
function lagValue(s: Walsender, kind: (typeof LAG_KINDS)[number]): number {
  const v = s.lagSeconds[kind];
  if (v !== null) return v;
  return s.state === 'streaming' && s.lagBytes[kind] === 0 ? 0 : NaN;
}

export function standbySeries(n: NamedStandby): Observation[] {
  const { standby, client, sender: s } = n;
  return [
    ...WALSENDER_STATES.map((state) => ({ name: 'postgres_standby_state' as const, value: s.state === state ? 1 : 0, labels: { standby, client, state } })),
    ...SYNC_STATES.map((sync) => ({ name: 'postgres_standby_sync_state' as const, value: s.syncState === sync ? 1 : 0, labels: { standby, client, sync_state: sync } })),
    ...LAG_KINDS.map((lag) => ({ name: 'postgres_standby_lag_seconds' as const, value: lagValue(s, lag), labels: { standby, client, lag } })),
    ...LAG_KINDS.map((lag) => ({ name: 'postgres_standby_lag_bytes' as const, value: s.lagBytes[lag] ?? NaN, labels: { standby, client, lag } })),
  ];
}

export interface StandbysView {
  readonly observations: Observation[];
  /** One line per standby with series, for the probe's message. */
  readonly text: string;
}

export function fmtBytes(b: number | null): string {
  if (b === null) return '?';
  if (b < 1024) return `${b} B`;
  return b < 1048576 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1048576).toFixed(1)} MiB`;
}

/** The first `limit` standbys (in label order) get series; `postgres_standbys` counts them all. */
export function standbysView(senders: readonly Walsender[], limit: number): StandbysView {
  const named = nameStandbys(senders);
  const shown = named.slice(0, limit);
  const observations: Observation[] = [{ name: 'postgres_standbys', value: senders.length }, ...shown.flatMap(standbySeries)];
  const parts = shown.map((n) => `${n.standby}@${n.client} ${n.sender.state ?? '?'}/${n.sender.syncState ?? '?'} replay ${fmtBytes(n.sender.lagBytes.replay)} behind`);
  if (named.length > shown.length) parts.push(`${named.length - shown.length} more without series (standby_series_limit ${limit})`);
  const text = senders.length === 0 ? 'no standby connected' : `${senders.length} standby${senders.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
  return { observations, text };
}

/** True when some sender's details are hidden from this role (it lacks pg_read_all_stats). */
export function detailsHidden(senders: readonly Walsender[]): boolean {
  return senders.some((s) => s.state === null);
}
