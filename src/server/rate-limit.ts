// rate_limit of a web config file: a token bucket as Go's rate.Limiter with
// rate.Every(interval) and a burst (exporter-toolkit's meaning): full at
// start, one token back per interval, at most `burst` saved up.

export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(readonly intervalMs: number, readonly burst: number, now = Date.now()) {
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes a token if there is one. */
  take(now = Date.now()): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#at) / this.intervalMs);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
