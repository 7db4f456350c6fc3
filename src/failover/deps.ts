// What the failover code needs from the agent, passed in (no globals): the
// etcd client, the lease TTL, metric setters, the logger, the environment
// hooks run with, a clock, and the remediation control plane (pause,
// dry-run, journal) that the member loop's own writes pass through.
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';

/** A write the member loop makes (or withholds) on its own server or in etcd. */
export interface ClusterWrite {
  readonly cluster: string;
  /** fence, unfence, follow, rejoin, tune, bootstrap, lease_released, … */
  readonly kind: string;
  readonly outcome: 'started' | 'done' | 'failed' | 'withheld';
  readonly detail: string;
}

export interface MemberControl {
  /** Repairs (follow, rejoin, tune, bootstrap) wait while remediation is paused; safety fences do not. */
  paused(): boolean;
  dryRun(): boolean;
  /** Appends to the remediation journal (fsynced); false when it could not be written. */
  journal(w: ClusterWrite): Promise<boolean>;
}

export interface FailoverDeps {
  readonly client: Etcd3;
  readonly leaseTtlSeconds: number;
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  readonly lockHeld: (key: string, held: boolean) => void;
  readonly setEpoch: (cluster: string, epoch: number) => void;
  readonly setFenced: (cluster: string, fenced: boolean) => void;
  readonly setPrimaryLeaseHeld: (cluster: string, held: boolean) => void;
  readonly setErrant: (cluster: string, count: number) => void;
  readonly control: MemberControl;
  readonly now: () => number;
}
