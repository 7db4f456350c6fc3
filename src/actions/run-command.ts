// Runs a program without a shell in its own process group, captures its
// output up to a limit, and on timeout kills the whole group (a runbook's
// children included): SIGTERM first, SIGKILL if it lingers.
import { spawn } from 'node:child_process';
import { formatDuration } from '../config/durations.js';

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  /** The caller's signal stopped it (its process group was killed). */
  readonly aborted?: boolean;
  /** stdout and stderr interleaved, the last `limit` bytes. */
  readonly output: string;
  readonly truncatedBytes: number;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  readonly spawnError?: string;
  readonly durationMs: number;
}

export interface CommandOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly timeoutMs: number;
  readonly limitBytes: number;
  /** Between SIGTERM and SIGKILL on timeout. */
  readonly killGraceMs?: number;
  /** Stops the program early (SIGTERM to its group, SIGKILL after killGraceMs), e.g. a hook whose reason is gone. */
  readonly signal?: AbortSignal;
}

/** A VIGIL_* value longer than this is cut: a peer's 200 KiB error text must not make exec fail with E2BIG. */
export const ENV_VALUE_LIMIT = 4096;
const CUT = '… (truncated)';

/**
 * The values vigil itself puts in a child's environment (VIGIL_*) carry peer
 * text (a probe's message): control characters become spaces (a NUL would
 * make the spawn fail) and the length is bounded. Other variables are the
 * operator's and pass as they are.
 */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (!k.startsWith('VIGIL_')) { out[k] = v; continue; }
    // eslint-disable-next-line no-control-regex
    const clean = v.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ');
    out[k] = clean.length > ENV_VALUE_LIMIT ? `${clean.slice(0, ENV_VALUE_LIMIT - CUT.length)}${CUT}` : clean;
  }
  return out;
}

export function runCommand(argv: readonly string[], opts: CommandOptions): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let dropped = 0;
    const take = (b: Buffer) => {
      chunks.push(b);
      kept += b.length;
      while (kept > opts.limitBytes && chunks.length > 0) {
        const over = kept - opts.limitBytes;
        const first = chunks[0];
        if (first.length <= over) { chunks.shift(); kept -= first.length; dropped += first.length; }
        else { chunks[0] = first.subarray(over); kept -= over; dropped += over; }
      }
    };
    let timedOut = false;
    let settled = false;
    const child = spawn(argv[0], argv.slice(1), { env: childEnv(opts.env), cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const killGroup = (sig: NodeJS.Signals) => {
      try { if (child.pid !== undefined) process.kill(-child.pid, sig); } catch { /* already gone */ }
    };
    let killTimer: NodeJS.Timeout | undefined;
    let aborted = false;
    const stop = () => {
      killGroup('SIGTERM');
      killTimer ??= setTimeout(() => killGroup('SIGKILL'), opts.killGraceMs ?? 2000);
    };
    const timer = setTimeout(() => { timedOut = true; stop(); }, opts.timeoutMs);
    const onAbort = () => { aborted = true; stop(); };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (r: Omit<CommandResult, 'output' | 'truncatedBytes' | 'durationMs' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      // Anything the group left behind after a timeout or an abort goes too.
      if (timedOut || aborted) { killGroup('SIGKILL'); clearTimeout(killTimer); }
      resolve({ ...r, timedOut, aborted, output: Buffer.concat(chunks).toString('utf8'), truncatedBytes: dropped, durationMs: Date.now() - started });
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.once('error', (err) => finish({ code: null, signal: null, spawnError: `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${err.message}` }));
    child.once('exit', (code, signal) => {
      // A background grandchild may hold the pipes open: give them a moment, then stop reading.
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish({ code, signal });
      }, 50);
    });
  });
}

/** One line saying how a command ended. */
export function describeEnd(argv0: string, r: CommandResult, timeoutMs: number): string {
  if (r.spawnError) return `cannot run ${argv0}: ${r.spawnError}`;
  if (r.timedOut) return `${argv0} timed out after ${formatDuration(timeoutMs)}; its process group was killed`;
  if (r.aborted) return `${argv0} was stopped early (its reason to run was gone); its process group was killed`;
  if (r.signal) return `${argv0} was killed by ${r.signal}`;
  return `${argv0} exited with code ${r.code}`;
}
