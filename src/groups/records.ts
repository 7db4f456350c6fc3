// What an active/standby group keeps in etcd, under <prefix>/groups/<group>/:
//   active          the active member's key, bound to its lease; the key's
//                   create revision is the term's fencing token
//   members/<name>  each member's record (health, priority, role), bound to its lease
//   paused          present while an operator paused the group (no elections, no step-downs for health)
//   switchover      an operator's request to move the role (bound to a short lease)
//   released        the last clean hand-over (member, token): no takeover_delay after it
import { z } from 'zod';

export interface GroupKeys {
  readonly root: string;
  readonly active: string;
  readonly membersPrefix: string;
  readonly paused: string;
  readonly switchover: string;
  readonly released: string;
  member(name: string): string;
}

export function groupKeys(prefix: string, group: string): GroupKeys {
  const root = `${prefix}/groups/${group}`;
  return {
    root,
    active: `${root}/active`,
    membersPrefix: `${root}/members/`,
    paused: `${root}/paused`,
    switchover: `${root}/switchover`,
    released: `${root}/released`,
    member: (name) => `${root}/members/${name}`,
  };
}

export const activeRecordSchema = z.object({
  member: z.string(),
  /** Random per agent process: tells this process's key from its previous incarnation's. */
  instance: z.string(),
  priority: z.number(),
  since: z.string(),
  advertise: z.string().nullable(),
});
export type ActiveRecord = z.infer<typeof activeRecordSchema>;

export const memberRecordSchema = z.object({
  member: z.string(),
  instance: z.string(),
  priority: z.number(),
  /** May stand: healthy_when probes not critical, priority > 0, not backing off after a failed on_active. */
  eligible: z.boolean(),
  why_not: z.string().nullable(),
  role: z.string(),
  advertise: z.string().nullable(),
  published_at: z.string(),
});
export type MemberRecord = z.infer<typeof memberRecordSchema>;

export const pauseRecordSchema = z.object({ by: z.string(), at: z.string(), note: z.string().nullable() });
export type PauseRecord = z.infer<typeof pauseRecordSchema>;

export const switchoverSchema = z.object({
  /** The active member when it was asked. */
  from: z.string(),
  /** The member to hand over to; null: anyone healthy but `from`. */
  to: z.string().nullable(),
  by: z.string(),
  at: z.string(),
});
export type SwitchoverRecord = z.infer<typeof switchoverSchema>;

export const releasedSchema = z.object({ member: z.string(), token: z.string(), at: z.string(), cause: z.string() });
export type ReleasedRecord = z.infer<typeof releasedSchema>;
