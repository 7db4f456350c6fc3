// Clusters (MySQL failover) and active/standby groups this host takes part
// in: who is primary or active, with which epoch or fencing token, and every
// member with its role, state and lag, as the last snapshot of etcd showed.
import type { ClusterDoc, FailoverDoc, GroupDoc, GroupsDoc } from '../../status/shape.js';
import { clip, relative } from '../../status/format.js';
import { html, when, type Markup } from './html.js';

type Events = ClusterDoc['events'];
const EVENTS_SHOWN = 5;

function events(list: Events, now: number): Markup {
  if (!list?.length) return html``;
  return html`<ul class="events">${list.slice(0, EVENTS_SHOWN).map((e) => html`<li>${when(e.at, relative(e.at, now))} <span class="st ${e.ok ? 'st-ok' : 'st-failed'}">${e.kind}</span> ${clip(e.detail, 300)}</li>`)}</ul>`;
}

const yesNo = (b: boolean | null | undefined) => (b === null || b === undefined ? '' : b ? 'yes' : 'no');

function cluster(name: string, c: ClusterDoc, now: number): Markup {
  const p = c.primary;
  const me = c.members?.find((m) => m.name === c.member);
  const block = c.recovery_block;
  return html`<div class="cluster" id="cluster-${name}"><h3>cluster ${name}</h3>
<p>primary: ${p ? html`<strong>${p.name}</strong> (${p.host}:${p.port}), epoch ${p.epoch}` : html`<strong>none recorded</strong>`}
· primary lease: ${c.primary_lease ? html`held by ${c.primary_lease.member}` : html`<strong>free</strong>`}
· this host (${c.member}): ${me ? `${me.role}, ${me.state}` : c.local ? (c.local.reachable ? 'reachable' : `server unreachable: ${c.local.error ?? ''}`) : 'not measured yet'}
${block ? html` · recovery block ${block.active ? html`<strong>in force</strong> until ${when(block.until, relative(block.until, now))} (lift with <code>vigil cluster acknowledge ${name}</code>)` : 'acknowledged or expired'}` : ''}
${c.errant ? html` · <strong>${c.errant.count} errant transaction(s)</strong>: <code>${clip(c.errant.transactions, 200)}</code>` : ''}
${c.etcd_error ? html` · <strong>${c.etcd_error}</strong>` : ''}</p>
${c.alignment ? html`<p class="muted">last alignment: ${c.alignment.action} — ${clip(c.alignment.detail, 300)}</p>` : ''}
<table><tr><th>Member</th><th>Address</th><th>Role</th><th>State</th><th>Lag</th><th>Epoch seen</th><th>Fenced</th><th>Lease</th><th>Last seen</th></tr>
${(c.members ?? []).map((m) => html`<tr class="${m.state === 'unreachable' || m.state.startsWith('no view') ? 'critical' : m.fenced ? 'warning' : ''}">
<td><strong>${m.name}</strong>${m.name === c.member ? ' (this host)' : ''}</td><td>${m.address ?? ''}</td><td>${m.role}</td><td>${m.state}</td>
<td class="n">${m.lag_seconds === null ? '' : `${m.lag_seconds}s`}</td><td class="n">${m.epoch_seen ?? ''}</td><td>${yesNo(m.fenced)}</td>
<td>${m.lease ? 'held' : ''}</td><td>${when(m.published_at, relative(m.published_at, now))}</td></tr>`)}</table>
${c.last_decision?.gates.length ? html`<p class="muted">last promotion decision ${when(c.last_decision.at, relative(c.last_decision.at, now))}: ${c.last_decision.gates.map((g) => `${g.gate} ${g.ok ? 'passed' : 'refused'}: ${g.detail}`).join('; ')}</p>` : ''}
${events(c.events, now)}</div>`;
}

export function clustersSection(f: FailoverDoc | undefined, now: number): Markup {
  if (!f || Object.keys(f.clusters).length === 0) return html``;
  return html`<section id="clusters"><h2>MySQL clusters</h2><p class="muted">member ${f.member} · ${f.etcd ?? ''}</p>
${Object.entries(f.clusters).map(([name, c]) => cluster(name, c, now))}</section>`;
}

function group(name: string, g: GroupDoc, now: number): Markup {
  const a = g.active;
  return html`<div class="group" id="group-${name}"><h3>group ${name}</h3>
<p>active: ${a ? html`<strong>${a.member ?? '(unreadable record)'}</strong>${a.advertise ? ` (${a.advertise})` : ''}, fencing token ${a.token}${a.since ? html`, since ${when(a.since, relative(a.since, now))}` : ''}` : html`<strong>nobody</strong>`}
· this host (${g.member}): <span class="st ${g.role === 'active' ? 'st-active' : 'st-none'}">${g.role}</span> since ${when(g.since, relative(g.since, now))}${g.fencing_token ? `, token ${g.fencing_token}` : ''}${g.eligible ? ', eligible' : html`, <strong>not eligible</strong>: ${g.why_not_eligible ?? ''}`}
${g.on_standby_failed ? html` · <strong>the last on_standby failed</strong>` : ''}
${g.paused ? html` · <strong>paused</strong> by ${g.paused.by}${g.paused.note ? ` (${g.paused.note})` : ''} — <code>vigil group resume ${name}</code>` : ''}
${g.switchover ? html` · switchover from ${g.switchover.from} to ${g.switchover.to ?? 'anyone eligible'} asked by ${g.switchover.by}` : ''}
${g.etcd_error ? html` · <strong>${g.etcd_error}</strong>` : ''}</p>
${g.last_decision ? html`<p class="muted">last decision: ${g.last_decision.kind}${g.last_decision.reason ? ` (${g.last_decision.reason})` : ''} — ${clip(g.last_decision.detail, 300)}</p>` : ''}
<table><tr><th>Member</th><th>Address</th><th>Role</th><th>Priority</th><th>Eligible</th></tr>
${g.members.map((m) => html`<tr class="${m.eligible ? '' : 'warning'}"><td><strong>${m.member}</strong>${m.member === g.member ? ' (this host)' : ''}</td>
<td>${m.advertise ?? ''}</td><td>${m.role}${a?.member === m.member ? html` <span class="st st-active">active</span>` : ''}</td><td class="n">${m.priority}</td>
<td>${m.eligible ? 'yes' : `no: ${m.why_not ?? ''}`}</td></tr>`)}</table>
${events(g.events, now)}</div>`;
}

export function groupsSection(gs: GroupsDoc | undefined, now: number): Markup {
  if (!gs || Object.keys(gs.groups).length === 0) return html``;
  return html`<section id="groups"><h2>Active/standby groups</h2>
${Object.entries(gs.groups).map(([name, g]) => group(name, g, now))}</section>`;
}
