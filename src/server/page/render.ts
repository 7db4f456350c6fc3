// The status page: one screen that answers "what is broken, what did vigil
// do about it, and why not". Rendered from the /status document alone, so
// it shows nothing /status does not; every value is escaped by html.ts.
import type { StatusDoc } from '../../status/shape.js';
import { layout } from './layout.js';
import { verdictSection } from './verdict.js';
import { probesSection } from './probes.js';
import { rulesSection } from './rules.js';
import { clustersSection, groupsSection } from './coordination.js';
import { journalSection } from './journal.js';

export interface PageOptions {
  readonly now: number;
  readonly refresh: number | undefined;
}

export function renderStatusPage(doc: StatusDoc, opts: PageOptions): string {
  const now = opts.now;
  return layout({
    title: `${doc.verdict.ready ? 'ready' : 'NOT READY'} · vigil on ${doc.agent.host ?? 'this host'}`,
    refresh: opts.refresh, generatedAt: new Date(now).toISOString(), version: doc.agent.version,
  }, [
    verdictSection(doc, now),
    probesSection(Object.values(doc.probes), now),
    rulesSection(doc.remediation, now),
    clustersSection(doc.failover, now),
    groupsSection(doc.groups, now),
    journalSection(doc.remediation, now),
  ]).text;
}

/** `?refresh=N`: whole seconds from 2 to 3600; anything else means no auto-refresh. */
export function refreshSeconds(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^\d{1,4}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= 2 && n <= 3600 ? n : undefined;
}
