// What a fleet keeps in etcd, under <prefix>/fleets/<fleet>/:
//   members/<member>  each member's record, bound to its agent's lease: which
//                     of the probes this fleet's rules use are critical there
//                     now (updated on every health state change)
//   slots/<i>         one key per remediation in progress, i < max_concurrent,
//                     created by compare-and-swap under the acting agent's
//                     lease: a dead agent's slot goes with its lease
import { z } from 'zod';

export interface FleetKeys {
  readonly root: string;
  readonly membersPrefix: string;
  readonly slotsPrefix: string;
  member(name: string): string;
  slot(index: number): string;
}

export function fleetKeys(prefix: string, fleet: string): FleetKeys {
  const root = `${prefix}/fleets/${fleet}`;
  return {
    root,
    membersPrefix: `${root}/members/`,
    slotsPrefix: `${root}/slots/`,
    member: (name) => `${root}/members/${name}`,
    slot: (index) => `${root}/slots/${index}`,
  };
}

export const fleetMemberSchema = z.object({
  member: z.string(),
  /** Random per agent process: tells this process's record from its previous incarnation's. */
  instance: z.string(),
  /** Probes (of those this fleet's rules use here) that are critical on this member now. */
  critical: z.array(z.string()),
  /** The probes this member reports on for the fleet. */
  watching: z.array(z.string()),
  published_at: z.string(),
});
export type FleetMemberRecord = z.infer<typeof fleetMemberSchema>;

export const slotRecordSchema = z.object({
  holder: z.string(),
  instance: z.string(),
  rule: z.string(),
  action: z.string(),
  /** The probe whose failure the action answers. */
  probe: z.string(),
  since: z.string(),
});
export type SlotRecord = z.infer<typeof slotRecordSchema>;
