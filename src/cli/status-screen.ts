// `vigil status` as a screen: the status page's content for a terminal of
// at most 100 columns. The verdict and every problem first, then the
// remediation switches, the probes that are not passing (all of them with
// --all), the rules that want looking at first, groups and clusters.
import type { ClusterDoc, GroupDoc, ProbeDoc, RuleDoc, StatusDoc } from '../status/shape.js';
import { relative, took } from '../status/format.js';
import { breakerText, decisionSentence, probesProblemsFirst, ruleRank, rulesProblemsFirst } from '../status/order.js';
import { cut, paint, table, wrap, type Cell, type Colour, type Style } from './style.js';

const STATE_COLOUR: Readonly<Record<string, Colour>> = { critical: 'red', warning: 'yellow', passing: 'green', unknown: 'grey' };

export interface ScreenOptions {
  readonly now: number;
  /** List passing probes and quiet rules too. */
  readonly all: boolean;
  readonly agentUrl: string;
}

function header(doc: StatusDoc, s: Style, o: ScreenOptions): string[] {
  const v = doc.verdict;
  const colour: Colour = v.level === 'ok' ? 'green' : v.level === 'warning' ? 'yellow' : 'red';
  // Cut first, paint after: escape codes take no columns but would count as characters.
  const head = cut(`vigil on ${doc.agent.host ?? o.agentUrl} — ${v.ready ? 'READY' : 'NOT READY'}${v.level === 'ok' ? `: ${v.summary.replace(/^ready: /, '')}` : ''}`, s.width);
  const lines = [paint(s, 'bold', paint(s, colour, head))];
  for (const p of v.problems) {
    const [first, ...more] = wrap(p, s.width, '    ', 3);
    lines.push(`  ${paint(s, colour, '✕')} ${first.trimStart()}`, ...more);
  }
  const reload = doc.agent.last_reload;
  lines.push(paint(s, 'grey', cut(`agent ${doc.agent.version} at ${o.agentUrl}, up ${relative(doc.agent.started_at, o.now).replace(/ ago$/, '')}; config ${doc.agent.config_file}`
    + `${reload.successful ? '' : ' (last reload FAILED)'}${reload.restart_needed?.length ? `; waiting for a restart: ${reload.restart_needed.join(', ')}` : ''}`, s.width)));
  return lines;
}

function switches(doc: StatusDoc, s: Style, o: ScreenOptions): string[] {
  const r = doc.remediation;
  if (!r) return [];
  const held = r.paused.paused || r.dry_run || r.maintenance.active;
  const parts = [
    r.paused.paused ? `PAUSED ${relative(r.paused.since, o.now)}${r.paused.note ? ` (${r.paused.note})` : ''}` : 'not paused',
    r.dry_run ? 'DRY-RUN' : 'dry_run off',
    r.maintenance.active ? `MAINTENANCE: ${r.maintenance.detail}` : 'no maintenance',
    `budget ${Math.max(0, r.budget.max_actions - r.budget.used)}/${r.budget.max_actions} left per ${r.budget.window}`,
    ...(r.startup_grace_until ? [`startup grace ${relative(r.startup_grace_until, o.now)}`] : []),
  ];
  return [paint(s, held ? 'yellow' : undefined, cut(`remediation: ${parts.join(' · ')}`, s.width))];
}

function probeRows(probes: readonly ProbeDoc[], s: Style, o: ScreenOptions): string[] {
  const ordered = probesProblemsFirst(probes);
  const shown = o.all ? ordered : ordered.filter((p) => p.state !== 'passing');
  const passing = ordered.length - ordered.filter((p) => p.state !== 'passing').length;
  const title = `probes: ${ordered.length - passing} not passing, ${passing} passing${!o.all && passing ? ' (--all lists them)' : ''}`;
  if (shown.length === 0) return ['', title];
  const rows = shown.map((p): Array<string | Cell> => {
    const last = p.last_result;
    return [
      p.name, { text: p.state, colour: STATE_COLOUR[p.state] }, relative(p.last_change, o.now).replace(/ ago$/, ''), p.consecutive_failures ? String(p.consecutive_failures) : '',
      took(last?.duration_seconds), last ? (last.ok ? last.message ?? '' : `${last.reason ?? 'failed'}: ${last.message ?? ''}`) : 'not run yet',
    ];
  });
  return ['', title, ...table(s, [
    { title: 'PROBE', max: 22 }, { title: 'STATE', max: 8 }, { title: 'SINCE', max: 8 }, { title: 'FAILS', max: 5, align: 'right' },
    { title: 'TOOK', max: 7, align: 'right' }, { title: 'LAST RESULT', max: 200 },
  ], rows)];
}

function lastAction(r: RuleDoc, now: number): string {
  const a = r.last_action;
  if (!a) return 'never acted';
  return `${a.outcome ?? 'running'} ${relative(a.completed_at ?? a.started_at, now)}${a.detail ? `: ${a.detail}` : ''}`;
}

function ruleRows(doc: StatusDoc, s: Style, o: ScreenOptions): string[] {
  const rules = doc.remediation ? rulesProblemsFirst(doc.remediation.rules) : [];
  if (rules.length === 0) return [];
  const shown = o.all ? rules : rules.filter(([, r]) => ruleRank(r) < 4);
  const title = `rules: ${rules.length}${shown.length < rules.length ? `, ${rules.length - shown.length} quiet (--all lists them)` : ''}`;
  if (shown.length === 0) return ['', title];
  const lines = ['', title];
  // Two lines a rule: the decision sentence needs the width, and so does the last action's detail.
  for (const [name, r] of shown) {
    const colour: Colour | undefined = r.breaker.open ? 'red' : r.last_decision?.kind === 'blocked' ? 'yellow' : undefined;
    lines.push(paint(s, 'bold', cut(`${name} (${r.action.type} ${r.action.target})`, s.width)));
    lines.push(...wrap(decisionSentence(r), s.width, '  ').map((l) => paint(s, colour, l)));
    lines.push(cut(`  breaker ${breakerText(r)} · cooldown ${r.cooldown.until ? `until ${relative(r.cooldown.until, o.now)}` : 'none'}`, s.width));
    lines.push(...wrap(`last action: ${lastAction(r, o.now)}`, s.width, '  '));
  }
  return lines;
}

function groupLines(name: string, g: GroupDoc, s: Style, o: ScreenOptions): string[] {
  const a = g.active;
  const head = `group ${name}: active ${a ? `${a.member ?? '?'} (token ${a.token})` : 'NOBODY'}; this host ${g.member} is ${g.role}`
    + `${g.eligible ? '' : ` (not eligible: ${g.why_not_eligible ?? ''})`}${g.paused ? `; PAUSED by ${g.paused.by}` : ''}${g.etcd_error ? `; ${g.etcd_error}` : ''}`;
  return [cut(head, s.width), ...table(s, [{ title: '  MEMBER', max: 20 }, { title: 'ROLE', max: 12 }, { title: 'PRIO', max: 4, align: 'right' }, { title: 'ELIGIBLE', max: 100 }],
    g.members.map((m) => [`  ${m.member}`, m.role, String(m.priority), m.eligible ? 'yes' : `no: ${m.why_not ?? ''}`]))];
}

function clusterLines(name: string, c: ClusterDoc, s: Style, o: ScreenOptions): string[] {
  const p = c.primary;
  const head = `cluster ${name}: primary ${p ? `${p.name} epoch ${p.epoch}` : 'NONE'}; lease ${c.primary_lease ? `held by ${c.primary_lease.member}` : 'free'}`
    + `${c.recovery_block?.active ? '; recovery block in force' : ''}${c.etcd_error ? `; ${c.etcd_error}` : ''}`;
  return [cut(head, s.width), ...table(s, [{ title: '  MEMBER', max: 20 }, { title: 'ROLE', max: 10 }, { title: 'STATE', max: 14 }, { title: 'LAG', max: 6, align: 'right' }, { title: 'LAST SEEN', max: 20 }],
    (c.members ?? []).map((m) => [`  ${m.name}`, m.role, m.state, m.lag_seconds === null ? '' : `${m.lag_seconds}s`, relative(m.published_at, o.now)]))];
}

export function renderScreen(doc: StatusDoc, s: Style, o: ScreenOptions): string {
  const lines = [...header(doc, s, o), ...switches(doc, s, o), ...probeRows(Object.values(doc.probes), s, o), ...ruleRows(doc, s, o)];
  for (const [name, g] of Object.entries(doc.groups?.groups ?? {})) lines.push('', ...groupLines(name, g, s, o));
  for (const [name, c] of Object.entries(doc.failover?.clusters ?? {})) lines.push('', ...clusterLines(name, c, s, o));
  return `${lines.join('\n')}\n`;
}
