// What the HTTP routes may see of the agent: read-only views and a few
// commands. Routes never reach into the agent's internals.
import type { Registry } from 'prom-client';
import type { StatusBook } from '../health/status-book.js';
import type { ConfigProblem } from '../config/load.js';

export interface ReloadOutcome {
  readonly ok: boolean;
  readonly problems?: readonly ConfigProblem[];
  readonly added?: readonly string[];
  /** Probes whose settings changed: restarted with the new ones, health and history kept. */
  readonly changed?: readonly string[];
  readonly removed?: readonly string[];
  /** What this reload did not apply and why (most need a restart); empty when it applied everything. */
  readonly restart_needed?: readonly string[];
}

export interface AgentInfo {
  readonly version: string;
  readonly startedAt: number;
  readonly configFile: string;
  readonly lastReload: {
    readonly ok: boolean; readonly at: number; readonly problems: readonly ConfigProblem[];
    /** What the last successful reload saw change that only a restart applies. */
    readonly restartNeeded?: readonly string[];
  };
}

/** A role endpoint's answer: ok → 200, not ok → 503; the body says why. */
export interface RoleAnswer { readonly ok: boolean; readonly body: Record<string, unknown> }

export interface AgentView {
  readonly registry: Registry;
  readonly status: StatusBook;
  info(): AgentInfo;
  /** Empty when alive; otherwise what is wrong (event loop stalled, probes overdue). */
  livenessProblems(): string[];
  reload(): Promise<ReloadOutcome>;
  /** Extra /status sections contributed by other parts (remediation, coordination). */
  statusSections(): Record<string, unknown>;
  /** /role/<group>[/standby]; undefined when this agent is not a member of the group. */
  groupRole(group: string, want: 'active' | 'standby'): RoleAnswer | undefined;
  /** /mysql/<cluster>/primary|replica; undefined when this agent is not a member of the cluster. */
  mysqlRole(cluster: string, want: 'primary' | 'replica', maxLagMs: number | undefined): RoleAnswer | undefined;
}
