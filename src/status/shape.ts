// The shape of the /status document as its readers (the status page and
// `vigil status`) use it. The producers build plain JSON objects
// (server/status-document.ts, remediation/status.ts, failover/member.ts,
// groups/member.ts); this is the one place that names the fields they read,
// so a renamed field shows up here and in the page's tests. Every field a
// reader touches is optional or nullable where a producer may leave it out:
// an agent of another version answering `vigil status` must not crash it.
import type { ClusterRow } from '../failover/cluster-table.js';

export type HealthStateName = 'unknown' | 'passing' | 'warning' | 'critical';

export interface RunDoc {
  readonly time: string;
  readonly ok: boolean;
  readonly reason?: string;
  readonly message?: string;
  readonly duration_seconds: number;
}

export interface ProbeDoc {
  readonly name: string;
  readonly type: string;
  readonly state: HealthStateName;
  readonly consecutive_failures: number;
  readonly consecutive_successes: number;
  readonly last_change: string | null;
  readonly last_result: RunDoc | null;
  /** Newest first; failures are kept longer than successes. */
  readonly history: readonly RunDoc[];
}

export type VerdictLevel = 'ok' | 'warning' | 'critical';

export interface VerdictDoc {
  /** What /ready answers. */
  readonly ready: boolean;
  /** ok: nothing to look at; warning: something is failing or held open but the host serves; critical: /ready says no or the agent is stuck. */
  readonly level: VerdictLevel;
  /** One sentence: ready or not, and why. */
  readonly summary: string;
  /** Every problem in a sentence each, worst first. */
  readonly problems: readonly string[];
  readonly critical: readonly string[];
  readonly critical_not_counted: readonly string[];
  readonly warning: readonly string[];
  readonly unknown: readonly string[];
  readonly liveness_problems: readonly string[];
}

export interface AgentDoc {
  readonly version: string;
  readonly host?: string;
  readonly started_at: string;
  readonly config_file: string;
  readonly last_reload: {
    readonly successful: boolean;
    readonly time: string;
    readonly problems: ReadonlyArray<{ readonly path: string; readonly line?: number; readonly message: string }>;
    /** Changes the reload saw that wait for a restart (admin:, coordination:, agent.listen, …). */
    readonly restart_needed?: readonly string[];
  };
}

export interface DecisionDoc {
  readonly kind: 'act' | 'blocked' | 'none';
  readonly reason?: string;
  readonly detail: string;
  readonly time: string;
  readonly since: string;
}

export interface RuleDoc {
  readonly action: { readonly type: string; readonly target: string; readonly scope: string };
  readonly when?: { readonly trigger?: readonly string[]; readonly condition?: string };
  readonly last_decision: DecisionDoc | null;
  readonly in_progress: { readonly what: string; readonly since: string | null } | null;
  readonly cooldown: { readonly duration: string; readonly until: string | null };
  readonly breaker: {
    readonly open: boolean; readonly actions_in_window: number; readonly max_actions: number; readonly window: string;
    readonly opened_at: string | null; readonly closes_at: string | null;
  };
  readonly escalation: { readonly after: string; readonly step: string; readonly detail: string } | null;
  readonly last_action: {
    readonly id: string; readonly started_at: string | null; readonly completed_at: string | null;
    readonly outcome: string | null; readonly detail?: string | null; readonly forced: boolean;
  } | null;
  readonly last_precheck_refusal: { readonly at: string | null; readonly reason: string; readonly detail: string } | null;
}

export interface JournalEntryDoc {
  readonly time: string;
  readonly event: string;
  /** The rule, cluster or group the entry is about. */
  readonly subject?: string;
  readonly outcome?: string;
  readonly detail?: string;
}

export interface RemediationDoc {
  readonly dry_run: boolean;
  readonly paused: { readonly paused: boolean; readonly since: string | null; readonly note: string | null };
  readonly maintenance: { readonly active: boolean; readonly detail: string };
  readonly startup_grace_until: string | null;
  readonly budget: { readonly max_actions: number; readonly window: string; readonly used: number };
  readonly journal: { readonly path: string; readonly size_bytes: number; readonly recent?: readonly JournalEntryDoc[] } | null;
  readonly admin: { readonly listening: string | null };
  readonly rules: Readonly<Record<string, RuleDoc>>;
}

/** failover/cluster-table.ts ClusterRow. */
/** A cluster member's row as /status carries it (failover/cluster-table.ts builds it); role as text for readers. */
export type ClusterMemberDoc = Omit<ClusterRow, 'role'> & { readonly role: string };

export interface ClusterDoc {
  readonly member: string;
  readonly primary: { readonly name: string; readonly host: string; readonly port: number; readonly epoch: number; readonly promoted_at?: string } | null;
  readonly primary_lease: { readonly member: string; readonly epoch: number } | null;
  readonly guard?: { readonly held: boolean; readonly last_loss?: string | null };
  readonly local: {
    readonly reachable: boolean; readonly error: string | null; readonly read_only: boolean | null; readonly fenced: boolean;
    readonly io: string | null; readonly sql: string | null; readonly lag_seconds: number | null;
  } | null;
  readonly members?: readonly ClusterMemberDoc[];
  readonly errant: { readonly transactions: string; readonly count: number } | null;
  readonly recovery_block: { readonly until: string; readonly active: boolean; readonly by: string } | null;
  readonly alignment: { readonly action: string; readonly detail: string } | null;
  readonly etcd_error: string | null;
  readonly last_decision?: { readonly at: string | null; readonly gates: ReadonlyArray<{ readonly gate: string; readonly ok: boolean; readonly detail: string; readonly at: string }> };
  readonly events?: ReadonlyArray<{ readonly at: string; readonly kind: string; readonly ok: boolean; readonly detail: string }>;
}

export interface FailoverDoc {
  readonly member: string;
  readonly etcd: string | null;
  readonly clusters: Readonly<Record<string, ClusterDoc>>;
}

export interface GroupMemberDoc {
  readonly member: string;
  readonly role: string;
  readonly priority: number;
  readonly eligible: boolean;
  readonly why_not: string | null;
  readonly advertise: string | null;
}

export interface GroupDoc {
  readonly member: string;
  readonly role: string;
  readonly since: string;
  readonly fencing_token: string | null;
  readonly eligible: boolean;
  readonly why_not_eligible: string | null;
  readonly priority: number;
  readonly on_standby_failed: boolean;
  readonly active: { readonly member: string | null; readonly token: string; readonly since: string | null; readonly advertise: string | null } | null;
  readonly paused: { readonly by: string; readonly at: string; readonly note: string | null } | null;
  readonly switchover: { readonly from: string; readonly to: string | null; readonly by: string; readonly at: string } | null;
  readonly members: readonly GroupMemberDoc[];
  readonly last_decision: { readonly kind: string; readonly reason?: string; readonly detail: string } | null;
  readonly etcd_error: string | null;
  readonly events?: ReadonlyArray<{ readonly at: string; readonly kind: string; readonly ok: boolean; readonly detail: string }>;
}

export interface GroupsDoc {
  readonly member: string;
  readonly groups: Readonly<Record<string, GroupDoc>>;
}

export interface StatusDoc {
  readonly agent: AgentDoc;
  readonly verdict: VerdictDoc;
  readonly probes: Readonly<Record<string, ProbeDoc>>;
  readonly remediation?: RemediationDoc;
  readonly failover?: FailoverDoc;
  readonly groups?: GroupsDoc;
}
