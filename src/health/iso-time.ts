// ISO 8601 times for /status without a Date per run: every run's time is
// formatted each time /status or the page is read (60 per probe, 1000
// probes), and Date#toISOString was most of that cost. The part up to the
// minute is kept per minute seen; the seconds are appended by hand.
const MINUTE_MS = 60_000;
/** Minutes remembered; a history spans a few hours at most, so this is plenty, and it stays bounded. */
const KEPT_MINUTES = 4096;

export class IsoTimes {
  private readonly prefixes = new Map<number, string>();

  format(ms: number): string {
    if (!Number.isFinite(ms) || ms < 0) return new Date(ms).toISOString();
    const minute = Math.floor(ms / MINUTE_MS);
    let prefix = this.prefixes.get(minute);
    if (prefix === undefined) {
      if (this.prefixes.size >= KEPT_MINUTES) this.prefixes.clear();
      prefix = new Date(minute * MINUTE_MS).toISOString().slice(0, 17); // "2026-12-02T21:39:"
      this.prefixes.set(minute, prefix);
    }
    const rest = ms - minute * MINUTE_MS; // 0..59999
    const s = Math.floor(rest / 1000);
    const milli = Math.floor(rest - s * 1000);
    return `${prefix}${s < 10 ? '0' : ''}${s}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
  }
}
