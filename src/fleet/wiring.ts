// Builds the agent's fleets over the shared etcd client and wires their
// metrics, so agent.ts only calls create / apply / probeChanged / stop.
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import { Fleets } from './fleets.js';
import type { FleetMetricSetters } from './member.js';

export interface FleetWiring {
  readonly client: Etcd3;
  readonly prefix: string;
  readonly member: string;
  /** coordination.lease_ttl in seconds: member records and slots; the fleet is also read this often. */
  readonly ttlSeconds: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly critical: (probe: string) => boolean;
}

export function fleetMetricSetters(m: Metrics['fleet']): FleetMetricSetters {
  return {
    members: (fleet, live) => m.members.set({ fleet }, live),
    share: (fleet, probe, share, standDown) => { m.criticalShare.set({ fleet, probe }, share); m.sharedCause.set({ fleet, probe }, standDown ? 1 : 0); },
    slotsHeld: (fleet, held) => m.slotsHeld.set({ fleet }, held),
    heldSeconds: (fleet, seconds) => m.slotHeldSeconds.set({ fleet }, seconds),
    forget: (fleet, probes, wholeFleet) => {
      for (const probe of probes) { m.criticalShare.remove({ fleet, probe }); m.sharedCause.remove({ fleet, probe }); }
      if (wholeFleet) for (const g of [m.members, m.slotsHeld, m.slotHeldSeconds]) g.remove({ fleet });
    },
  };
}

export function createFleets(w: FleetWiring): Fleets {
  return new Fleets({
    client: w.client, prefix: w.prefix, member: w.member, ttlSeconds: w.ttlSeconds, refreshMs: w.ttlSeconds * 1000,
    logger: w.logger.child({ component: 'fleets' }), now: Date.now, critical: w.critical, metrics: fleetMetricSetters(w.metrics.fleet),
  });
}
