import type { ObservationName } from '../metrics/catalogue.js';

/** Why a probe failed: a small fixed set, safe to use as a metric label. */
export const FAILURE_REASONS = [
  'timeout', 'dns', 'connect_refused', 'tls', 'status', 'body', 'threshold', 'auth',
  'query', 'replication_stopped', 'lag_unknown', 'readonly', 'io_error', 'protocol', 'internal',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/**
 * One measured value a probe reports besides success. `name` is a key of the
 * metric catalogue, so a probe cannot invent a metric; `labels` are the extra
 * labels that metric declares beyond `probe` (e.g. `path` for disk metrics).
 */
export interface Observation {
  readonly name: ObservationName;
  readonly value: number;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly reason?: FailureReason;
  /** Human text for /status and logs; never a metric label. */
  readonly message?: string;
  readonly durationSeconds: number;
  readonly observations: readonly Observation[];
  /**
   * The run reported every series the probe owns (unknown values as NaN), so
   * a failed run replaces the previous set as a successful one does: a
   * standby that left the primary's view loses its series even while the
   * probe fails. Unset, a failed run keeps the series it did not report.
   */
  readonly observationsComplete?: boolean;
}

export interface Probe {
  readonly name: string;
  readonly type: string;
  /** Must resolve (never reject) and must honour `signal` promptly. */
  run(signal: AbortSignal): Promise<ProbeResult>;
  close?(): Promise<void>;
}

/** What a probe body returns; the runner adds the duration. */
export type ProbeOutcome = Omit<ProbeResult, 'durationSeconds' | 'observations'> & {
  readonly observations?: readonly Observation[];
};
