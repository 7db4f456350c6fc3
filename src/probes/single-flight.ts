/**
 * At most one call per key in flight, across probe instances and reloads.
 * A call into a hung kernel path (statfs on a dead NFS mount) cannot be
 * cancelled; the honest answer is to not pile more calls on top of it.
 */
export class SingleFlight {
  private readonly running = new Map<string, { since: number; promise: Promise<unknown> }>();

  /** When the outstanding call for `key` started, if one is still running. */
  outstandingSince(key: string): number | undefined {
    return this.running.get(key)?.since;
  }

  /** Settles (never rejects) when the outstanding call for `key` does; at once if there is none. */
  settled(key: string): Promise<void> {
    const cur = this.running.get(key);
    return cur ? cur.promise.then(() => undefined, () => undefined) : Promise.resolve();
  }

  run<T>(key: string, call: () => Promise<T>, now = Date.now()): Promise<T> {
    if (this.running.has(key)) throw new Error(`a call for ${key} is already in flight`);
    const promise = call().finally(() => this.running.delete(key));
    this.running.set(key, { since: now, promise });
    return promise;
  }

  size(): number {
    return this.running.size;
  }
}
