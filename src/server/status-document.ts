// The /status document: the agent, its verdict, every probe, and the
// sections other parts contribute (remediation, failover, groups). Built in
// one place so /status, the status page and `vigil status` show the same
// data under the same rules: no config values beyond names and targets, so
// nothing secret can leak.
import { hostname } from 'node:os';
import type { AgentView } from './view.js';
import type { ProbeDoc, RemediationDoc, StatusDoc } from '../status/shape.js';
import { verdictOf } from '../status/verdict.js';

export interface DocumentOptions {
  /** Keep only the newest N runs of each probe's history (the status page's strip); default all of them, as /status shows. */
  readonly historyLimit?: number;
}

export function statusDocument(view: AgentView, opts: DocumentOptions = {}): StatusDoc {
  const info = view.info();
  const probes: Record<string, ProbeDoc> = {};
  for (const p of view.status.all(opts.historyLimit)) {
    probes[p.name] = {
      name: p.name,
      type: p.type,
      state: p.health.state,
      consecutive_failures: p.health.consecutiveFailures,
      consecutive_successes: p.health.consecutiveSuccesses,
      last_change: p.lastChange ?? null,
      last_result: p.lastResult ?? null,
      history: p.recent ?? [...p.failures, ...p.successes].sort((a, b) => (a.time < b.time ? 1 : -1)),
    };
  }
  const sections = view.statusSections();
  // The producers (remediation/status.ts) build this shape; status/shape.ts names what readers use of it.
  const remediation = sections.remediation as RemediationDoc | undefined;
  const verdict = verdictOf({
    probes: Object.values(probes),
    readiness: view.status.readiness(),
    liveness: view.livenessProblems(),
    reloadFailed: info.lastReload.ok ? undefined : { problems: info.lastReload.problems.length },
    restartNeeded: info.lastReload.restartNeeded,
    breakersOpen: Object.entries(remediation?.rules ?? {}).filter(([, r]) => r.breaker.open).map(([name]) => name).sort(),
  });
  const reload = info.lastReload;
  return {
    agent: {
      version: info.version,
      host: hostname(),
      started_at: new Date(info.startedAt).toISOString(),
      config_file: info.configFile,
      last_reload: {
        successful: reload.ok, time: new Date(reload.at).toISOString(), problems: reload.problems,
        ...(reload.restartNeeded ? { restart_needed: reload.restartNeeded } : {}),
      },
    },
    verdict,
    probes,
    ...sections,
  };
}
