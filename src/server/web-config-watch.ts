// A listener's web config, re-read when it changes. exporter-toolkit reads
// the file on every request and handshake; here each new connection and
// request asks, and at most once a second the file and the certificates it
// names are stat()ed: unchanged, nothing is read. A changed file that does
// not parse (or that a running listener cannot take) is refused: the last
// good config stays, the problem is logged once, and
// vigil_web_config_last_reload_successful{listener} drops to 0 until it is
// fixed. (exporter-toolkit fails every request instead.)
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import { loadWebConfigFile, webConfigProblemLines, type WebConfig } from '../config/web-config.js';

export interface WebConfigWatchOptions {
  readonly listener: string;
  readonly logger: Logger;
  /** Why a running listener cannot take this config (TLS switched on or off), or undefined. */
  readonly compatible: (next: WebConfig, current: WebConfig) => string | undefined;
  readonly onChange: (next: WebConfig) => void;
  readonly onResult: (ok: boolean, at: number) => void;
  readonly minCheckIntervalMs?: number;
}

function signature(files: readonly string[]): string {
  return files.map((f) => {
    try {
      const st = statSync(f);
      return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? 'error';
    }
  }).join('|');
}

export class WebConfigWatch {
  #current: WebConfig;
  #signature: string;
  #checkedAt = 0;
  #failing: string | undefined;

  constructor(initial: WebConfig, private readonly opts: WebConfigWatchOptions) {
    this.#current = initial;
    this.#signature = signature(initial.sources);
    opts.onResult(true, Date.now());
  }

  /** The config in force, after looking for a change if the last look is over a second old. */
  current(now = Date.now()): WebConfig {
    if (now - this.#checkedAt >= (this.opts.minCheckIntervalMs ?? 1000)) this.check(now);
    return this.#current;
  }

  /** Looks now. While the file is bad it is read again at every look (a certificate it names may appear). */
  check(now = Date.now()): void {
    this.#checkedAt = now;
    const sig = signature(this.#current.sources);
    if (sig === this.#signature && this.#failing === undefined) return;
    const problem = this.#load();
    if (typeof problem === 'string') {
      if (problem !== this.#failing) {
        this.opts.logger.error({ listener: this.opts.listener, file: this.#current.file, problems: problem.split('\n') }, 'web config reload failed; the listener keeps its last good web config');
      }
      this.#failing = problem;
      this.opts.onResult(false, now);
      return;
    }
    this.#signature = signature(problem.sources);
    this.#failing = undefined;
    this.#current = problem;
    this.opts.onChange(problem);
    this.opts.onResult(true, now);
    this.opts.logger.info({ listener: this.opts.listener, file: problem.file, tls: problem.tls !== undefined, users: problem.users.size }, 'web config reloaded');
  }

  /** Makes `file` the web config (vigil.yaml named another one). */
  replace(next: WebConfig): string | undefined {
    const why = this.opts.compatible(next, this.#current);
    if (why) return why;
    this.#current = next;
    this.#signature = signature(next.sources);
    this.#failing = undefined;
    this.opts.onChange(next);
    this.opts.onResult(true, Date.now());
    return undefined;
  }

  /** The new config, or why it is refused. */
  #load(): WebConfig | string {
    const file = this.#current.file;
    const hadSomething = this.#current.users.size > 0 || this.#current.tls !== undefined;
    try {
      // Truncated and not yet written again (an editor saving): an empty file would turn auth off for a moment.
      if (hadSomething && statSync(file).size === 0) return `${file} is empty (being written?); an empty web config would turn basic auth and TLS off`;
    } catch { /* the load below says why */ }
    const r = loadWebConfigFile(file);
    if (!r.ok) return webConfigProblemLines(file, r.problems).join('\n');
    return this.opts.compatible(r.value, this.#current) ?? r.value;
  }
}
