import type { Observation, ProbeOutcome, ProbeResult } from './types.js';

/**
 * Runs a probe body and turns whatever happens into a ProbeResult: a probe's
 * failure is a result, never an exception that reaches the scheduler.
 */
export async function timed(body: () => Promise<ProbeOutcome>): Promise<ProbeResult> {
  const start = process.hrtime.bigint();
  let outcome: ProbeOutcome;
  try {
    outcome = await body();
  } catch (err) {
    outcome = { ok: false, reason: 'internal', message: `probe error: ${err instanceof Error ? err.message : String(err)}` };
  }
  const durationSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { ...outcome, durationSeconds, observations: outcome.observations ?? [] };
}

export function fail(reason: NonNullable<ProbeOutcome['reason']>, message: string, observations: readonly Observation[] = []): ProbeOutcome {
  return { ok: false, reason, message, observations };
}

/** Resolves when the signal aborts; lets a probe race a call that ignores signals. */
export function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
