// Builds the agent's cluster memberships from `coordination:` (member name,
// lease TTL) over the agent's etcd client and wires their metrics. Kept out
// of agent.ts so the agent only calls create / apply / stop.
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import { describeEtcd, memberName, type CoordinationConfig } from '../coordination/etcd-client.js';
import { FailoverClusters } from './clusters.js';
import type { MemberControl } from './deps.js';

export function createFailover(cfg: CoordinationConfig, client: Etcd3,
  deps: { logger: Logger; metrics: Metrics; env: NodeJS.ProcessEnv; stateDir: string; control: MemberControl }): FailoverClusters {
  const name = memberName(cfg);
  const a = deps.metrics.agent;
  return new FailoverClusters({
    client, prefix: cfg.etcd.prefix, name, leaseTtlSeconds: cfg.lease_ttl / 1000,
    logger: deps.logger.child({ component: 'failover' }), env: deps.env, now: Date.now,
    lockHeld: (key, held) => a.lockHeld.set({ key }, held ? 1 : 0),
    setEpoch: (cluster, epoch) => a.clusterEpoch.set({ cluster }, epoch),
    setFenced: (cluster, fenced) => a.mysqlFenced.set({ cluster }, fenced ? 1 : 0),
    setPrimaryLeaseHeld: (cluster, held) => a.primaryLeaseHeld.set({ cluster }, held ? 1 : 0),
    setErrant: (cluster, count) => a.errantTransactions.set({ cluster }, count),
    control: deps.control,
    describe: describeEtcd(cfg.etcd), stateDir: deps.stateDir,
  });
}
