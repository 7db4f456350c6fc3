// What the failover code needs from the agent, passed in (no globals): the
// etcd client, the lease TTL, metric setters, the logger, the environment
// hooks run with, and a clock.
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';

export interface FailoverDeps {
  readonly client: Etcd3;
  readonly leaseTtlSeconds: number;
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  readonly lockHeld: (key: string, held: boolean) => void;
  readonly setEpoch: (cluster: string, epoch: number) => void;
  readonly setFenced: (cluster: string, fenced: boolean) => void;
  readonly now: () => number;
}
