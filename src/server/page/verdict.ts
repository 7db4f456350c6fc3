// The top of the page: the host's verdict (ready or not, and why, every
// problem in a sentence), the agent line, and the remediation switches
// (paused, dry-run, maintenance, startup grace, budget left).
import type { StatusDoc } from '../../status/shape.js';
import { relative } from '../../status/format.js';
import { html, when, type Markup } from './html.js';

export function verdictSection(doc: StatusDoc, now: number): Markup {
  const v = doc.verdict;
  const a = doc.agent;
  const reload = a.last_reload;
  return html`<section id="verdict">
<h1>vigil on ${a.host ?? 'this host'}</h1>
<div class="verdict v-${v.level}" id="verdict-${v.level}">${v.ready
    ? html`<p><strong>READY</strong> — ${v.summary}</p>${v.problems.length > 1 ? html`<ul>${v.problems.map((p) => html`<li>${p}</li>`)}</ul>` : ''}`
    : html`<p><strong>NOT READY</strong> (/ready answers 503)</p><ul>${v.problems.map((p) => html`<li>${p}</li>`)}</ul>`}</div>
<p class="muted">agent ${a.version}, up since ${when(a.started_at, relative(a.started_at, now))} · config <code>${a.config_file}</code>,
${reload.successful ? html`loaded ${when(reload.time, relative(reload.time, now))}` : html`<strong>last reload failed</strong>: ${reload.problems.map((p) => `${p.path}${p.line ? ` (line ${p.line})` : ''}: ${p.message}`).join('; ')}`}
${reload.restart_needed?.length ? html` · <strong>waiting for a restart:</strong> ${reload.restart_needed.join('; ')}` : ''}</p>
${switches(doc, now)}
</section>`;
}

function switches(doc: StatusDoc, now: number): Markup {
  const r = doc.remediation;
  if (!r) return html``;
  const rules = Object.keys(r.rules).length;
  const left = Math.max(0, r.budget.max_actions - r.budget.used);
  return html`<p class="switches" id="switches"><strong>Remediation</strong> (${rules} rule${rules === 1 ? '' : 's'}):
<span>${r.paused.paused ? html`<span class="st st-blocked">PAUSED</span> since ${when(r.paused.since, relative(r.paused.since, now))}${r.paused.note ? html` — ${r.paused.note}` : ''}` : 'not paused'}</span>
<span>${r.dry_run ? html`<span class="st st-blocked">DRY-RUN</span> decides, never acts` : 'acting for real (dry_run off)'}</span>
<span>${r.maintenance.active ? html`<span class="st st-blocked">MAINTENANCE</span> ${r.maintenance.detail}` : 'no maintenance window'}</span>
${r.startup_grace_until ? html`<span>startup grace until ${when(r.startup_grace_until, relative(r.startup_grace_until, now))}</span>` : ''}
<span>budget: ${left} of ${r.budget.max_actions} actions left per ${r.budget.window}</span>
<span>admin API: ${r.admin.listening ?? 'off'}</span></p>`;
}
