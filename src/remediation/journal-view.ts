// The journal's newest records as /status shows them: one line each (when,
// what, about which rule/cluster/group, how it ended and why), without the
// captured output, which stays in the file.
import type { JournalRecord } from './journal-format.js';

export interface JournalEntryView {
  readonly time: string;
  readonly event: string;
  readonly subject?: string;
  readonly outcome?: string;
  readonly detail?: string;
}

export function journalEntryView(r: JournalRecord): JournalEntryView {
  const base = { time: r.time, event: r.event };
  switch (r.event) {
    case 'intent':
      return { ...base, subject: r.rule, outcome: 'started', detail: `${r.action} ${r.target} (probe ${r.probe}: ${r.reason}${r.forced ? ', forced' : ''})` };
    case 'outcome':
      return { ...base, subject: r.rule, outcome: r.outcome, detail: r.detail };
    case 'dry_run':
      return { ...base, subject: r.rule, outcome: 'dry_run', detail: r.detail };
    case 'breaker_reset':
      return { ...base, subject: r.rule, detail: 'breaker reset by an operator' };
    case 'pause':
    case 'resume':
      return { ...base, ...(r.note ? { detail: r.note } : {}) };
    case 'cluster_write':
      return { ...base, subject: r.cluster, outcome: r.outcome, detail: `${r.kind}: ${r.detail}` };
    case 'group_hook':
      return { ...base, subject: r.group, outcome: r.outcome, detail: `${r.hook} (${r.cause}${r.token ? `, token ${r.token}` : ''}): ${r.detail}` };
  }
}
