// bcrypt comparisons off the event loop. A cost-10 hash takes ~100 ms in
// bcryptjs (pure JS); on the main thread every uncached login would stall
// the probe scheduler for that long. One worker thread, started on first
// use and stopped when idle, does them one at a time (as exporter-toolkit
// serialises them behind a mutex); a bounded queue answers `busy` beyond it,
// so a flood of wrong passwords costs one core at most and no memory.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** 'failed': the worker could not answer (it died or would not start); nothing is known of the password. */
export type CompareResult = boolean | 'busy' | 'failed';

// CommonJS, evaluated in the worker: it needs no TypeScript loader. bcryptjs
// is required through a require() of its own path: the eval'd code's own
// require() makes Node 24 read the package.json of the working directory,
// which fails where that is unreadable or broken (a unit's cwd under
// ProtectHome=) and killed the worker.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require('node:module').createRequire(workerData.bcryptjs)(workerData.bcryptjs);
const dummies = new Map();
parentPort.on('message', ({ id, password, hash, cost }) => {
  let ok = false;
  try {
    if (hash === undefined) {
      // An unknown user costs as much as a known one, so timing tells no names.
      if (!dummies.has(cost)) dummies.set(cost, bcrypt.hashSync('vigil-unknown-user', cost));
      bcrypt.compareSync(password, dummies.get(cost));
    } else ok = bcrypt.compareSync(password, hash);
  } catch { ok = false; }
  parentPort.postMessage({ id, ok });
});
`;

interface Pending { resolve(ok: CompareResult): void }

export class BcryptWorker {
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: {
    maxQueue?: number; idleMs?: number;
    /** Told each time the worker fails (it died or would not start); its comparisons answer 'failed'. */
    onFailure?: (err: Error) => void;
    /** bcryptjs's path (default: resolved from here); tests point it at a broken one. */
    module?: string;
  } = {}) {}

  /** Whether `password` matches `hash`; with no hash, spends the time a hash of `cost` takes and says false. */
  compare(password: string, hash: string | undefined, cost = 10): Promise<CompareResult> {
    if (this.#pending.size >= (this.opts.maxQueue ?? 16)) return Promise.resolve('busy');
    const worker = this.#ensure();
    clearTimeout(this.#idleTimer);
    const id = this.#nextId++;
    return new Promise<CompareResult>((resolve) => {
      this.#pending.set(id, { resolve });
      worker.postMessage({ id, password, hash, cost });
    });
  }

  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    const w = this.#worker;
    this.#worker = undefined;
    this.#fail();
    await w?.terminate();
  }

  #ensure(): Worker {
    if (this.#worker) return this.#worker;
    const bcryptjs = this.opts.module ?? createRequire(import.meta.url).resolve('bcryptjs');
    const w = new Worker(WORKER_SOURCE, {
      eval: true, workerData: { bcryptjs },
      execArgv: [], // not the parent's loaders and heap flags: plain JS needs none
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    w.unref(); // never what keeps the process alive
    w.on('message', (m: { id: number; ok: boolean }) => {
      this.#pending.get(m.id)?.resolve(m.ok);
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) this.#armIdle();
    });
    // A dead worker answers 'failed' to what it was asked (never a cached "wrong password") and says
    // why; the next comparison starts a new one.
    const gone = (err?: Error) => {
      if (this.#worker !== w) return;
      this.#worker = undefined;
      if (this.#pending.size > 0 || err) this.opts.onFailure?.(err ?? new Error('the bcrypt worker exited with comparisons pending'));
      this.#fail();
    };
    w.on('error', (err) => gone(err));
    w.on('exit', () => gone());
    this.#worker = w;
    return w;
  }

  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => { void this.close(); }, this.opts.idleMs ?? 60_000);
    this.#idleTimer.unref();
  }

  #fail(): void {
    for (const p of this.#pending.values()) p.resolve('failed');
    this.#pending.clear();
  }
}
