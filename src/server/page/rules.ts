// Every remediation rule, the ones that want looking at first: its last
// decision and the gate behind it in a sentence, the breaker, the cooldown
// left, and its last action with outcome and detail (why it failed).
import type { RemediationDoc, RuleDoc } from '../../status/shape.js';
import { clip, relative } from '../../status/format.js';
import { breakerText, decisionSentence, rulesProblemsFirst } from '../../status/order.js';
import { html, when, type Markup } from './html.js';

const DETAIL_CHARS = 400;

function decisionBadge(r: RuleDoc): Markup {
  const d = r.last_decision;
  const kind = r.in_progress ? 'acting' : d?.kind ?? 'none';
  const cls = kind === 'blocked' ? 'st-blocked' : kind === 'act' || kind === 'acting' ? 'st-active' : 'st-none';
  return html`<span class="st ${cls}">${kind === 'blocked' ? d?.reason ?? 'blocked' : kind}</span>`;
}

function lastAction(r: RuleDoc, now: number): Markup {
  const a = r.last_action;
  if (!a) return html`<span class="muted">never acted</span>`;
  const failed = a.outcome !== null && /failed/.test(a.outcome);
  return html`<span class="st ${failed ? 'st-failed' : a.outcome === 'succeeded' || a.outcome === 'reconciled_succeeded' ? 'st-ok' : 'st-none'}">${a.outcome ?? 'running'}</span>
${when(a.completed_at ?? a.started_at, relative(a.completed_at ?? a.started_at, now))}${a.forced ? ' (forced)' : ''}
${a.detail ? html`<div class="msg">${clip(a.detail, DETAIL_CHARS)}</div>` : ''}`;
}

function row(name: string, r: RuleDoc, now: number): Markup {
  const d = r.last_decision;
  const cooldown = r.cooldown.until ? html`until ${when(r.cooldown.until, relative(r.cooldown.until, now))}` : html`<span class="muted">none (${r.cooldown.duration})</span>`;
  return html`<tr id="rule-${name}" class="${r.breaker.open ? 'critical' : d?.kind === 'blocked' ? 'warning' : ''}">
<td><strong>${name}</strong><div class="muted">${r.action.type} → <code>${clip(r.action.target, 120)}</code></div>
${r.when?.condition ? html`<div class="muted">when ${r.when.condition}</div>` : ''}</td>
<td>${decisionBadge(r)} <span class="decision">${clip(decisionSentence(r), DETAIL_CHARS)}</span>
${d ? html`<div class="muted">since ${when(d.since, relative(d.since, now))}</div>` : ''}
${r.escalation ? html`<div class="muted">escalation after ${r.escalation.after}: ${r.escalation.step} — ${r.escalation.detail}</div>` : ''}
${r.last_precheck_refusal ? html`<div class="muted">last precheck refusal: ${r.last_precheck_refusal.reason} — ${clip(r.last_precheck_refusal.detail, 200)}</div>` : ''}</td>
<td><span class="breaker ${r.breaker.open ? 'st st-open' : ''}">${breakerText(r)}</span>
${r.breaker.open && r.breaker.closes_at ? html`<div class="muted">closes ${when(r.breaker.closes_at, relative(r.breaker.closes_at, now))} or on <code>vigil rule reset ${name}</code></div>` : ''}</td>
<td>${cooldown}</td><td>${lastAction(r, now)}</td></tr>`;
}

export function rulesSection(rem: RemediationDoc | undefined, now: number): Markup {
  if (!rem || Object.keys(rem.rules).length === 0) return html``;
  const rules = rulesProblemsFirst(rem.rules);
  return html`<section id="rules"><h2>Remediation rules (${rules.length})</h2>
<table><tr><th>Rule</th><th>Last decision</th><th>Breaker</th><th>Cooldown</th><th>Last action</th></tr>
${rules.map(([name, r]) => row(name, r, now))}</table></section>`;
}
