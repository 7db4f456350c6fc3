// Times, durations and text as the status page and `vigil status` print
// them: relative to the moment of rendering ("3m 12s ago", "in 4m"), short,
// and cut to a length a screen can hold.

/** "4s", "3m 12s", "2h 5m", "3d 4h": two units at most. */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** "3m 12s ago" / "in 4m" / "just now"; '' for a missing or unreadable time. */
export function relative(iso: string | null | undefined, now: number): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const d = t - now;
  if (Math.abs(d) < 1000) return 'just now';
  return d < 0 ? `${span(-d)} ago` : `in ${span(d)}`;
}

/** A probe run's duration: "850µs", "12ms", "1.24s". */
export function took(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 0.001) return `${Math.round(seconds * 1e6)}µs`;
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  return `${seconds.toFixed(2)}s`;
}

/** At most `max` characters, with an ellipsis when cut; newlines become spaces (one line per cell). */
export function clip(text: string | null | undefined, max: number): string {
  if (!text) return '';
  const one = text.replace(/\s*\n\s*/g, ' ');
  return one.length > max ? `${one.slice(0, Math.max(0, max - 1))}…` : one;
}
