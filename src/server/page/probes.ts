// Every probe, problems first: state and since when, failures in a row, the
// last reason and message, how long the run took, and a strip of recent
// results. Passing probes fold away under a summary when there are many, so
// a page with 1000 probes leads with the failing ones and stays short.
import type { ProbeDoc, RunDoc } from '../../status/shape.js';
import { clip, relative, took } from '../../status/format.js';
import { probesProblemsFirst } from '../../status/order.js';
import { html, when, type Markup } from './html.js';

/** Results in the strip, oldest left. */
export const STRIP_LENGTH = 20;
/** More passing probes than this are folded under a <details>. */
const FOLD_PASSING_OVER = 50;
const MESSAGE_CHARS = 300;

/** Runs of equal results share one span: small, and readable without colour (· ok, ✕ failed). */
export function strip(history: readonly RunDoc[]): Markup {
  const runs = history.slice(0, STRIP_LENGTH).reverse();
  if (runs.length === 0) return html`<span class="muted">no runs yet</span>`;
  const parts: Markup[] = [];
  let i = 0;
  while (i < runs.length) {
    let j = i;
    while (j < runs.length && runs[j].ok === runs[i].ok) j++;
    parts.push(html`<span class="${runs[i].ok ? 's-ok' : 's-fail'}">${(runs[i].ok ? '·' : '✕').repeat(j - i)}</span>`);
    i = j;
  }
  const failed = runs.filter((r) => !r.ok).length;
  // An all-ok strip says so by itself: no title, no inner span (most rows of a big page).
  if (failed === 0) return html`<span class="strip s-ok">${'·'.repeat(runs.length)}</span>`;
  return html`<span class="strip" title="${`oldest to newest: ${runs.length - failed} ok, ${failed} failed`}">${parts}</span>`;
}

function row(p: ProbeDoc, now: number): Markup {
  const last = p.last_result;
  const text = last ? (last.ok ? clip(last.message, MESSAGE_CHARS) : `${last.reason ?? 'failed'}: ${clip(last.message, MESSAGE_CHARS)}`) : '';
  return html`<tr class="${p.state}" id="probe-${p.name}"><td><span class="st st-${p.state}">${p.state}</span></td>
<td><strong>${p.name}</strong> <span class="muted">${p.type}</span></td>
<td>${when(p.last_change, relative(p.last_change, now))}</td><td class="n">${p.consecutive_failures || ''}</td>
<td class="msg">${text}</td><td class="n">${took(last?.duration_seconds)}</td>
<td>${when(last?.time, relative(last?.time, now))}</td><td>${strip(p.history)}</td></tr>`;
}

/** A passing probe in fewer bytes: no state column, no failure count (both say "fine"). */
function passingRow(p: ProbeDoc, now: number): Markup {
  const last = p.last_result;
  return html`<tr class="passing" id="probe-${p.name}"><td><b>${p.name}</b> <i>${p.type}</i></td><td>${when(p.last_change, relative(p.last_change, now))}</td>
<td class="msg">${clip(last?.message, MESSAGE_CHARS)}</td><td class="n">${took(last?.duration_seconds)}</td><td>${when(last?.time, relative(last?.time, now))}</td><td>${strip(p.history)}</td></tr>`;
}

const HEAD = html`<tr><th>State</th><th>Probe</th><th>Since</th><th>Failed in a row</th><th>Last result</th><th>Took</th><th>Last run</th><th>Recent (oldest → newest)</th></tr>`;
const PASSING_HEAD = html`<tr><th>Probe</th><th>Passing since</th><th>Last result</th><th>Took</th><th>Last run</th><th>Recent (oldest → newest)</th></tr>`;

export function probesSection(probes: readonly ProbeDoc[], now: number): Markup {
  const ordered = probesProblemsFirst(probes);
  const problems = ordered.filter((p) => p.state !== 'passing');
  const passing = ordered.filter((p) => p.state === 'passing');
  const fold = passing.length > FOLD_PASSING_OVER;
  const passingTable = html`<table class="passing">${PASSING_HEAD}${passing.map((p) => passingRow(p, now))}</table>`;
  return html`<section id="probes"><h2>Probes: ${problems.length} not passing, ${passing.length} passing</h2>
${problems.length ? html`<table>${HEAD}${problems.map((p) => row(p, now))}</table>` : html`<p class="muted">Every probe passes.</p>`}
${passing.length === 0 ? '' : fold
    ? html`<details id="passing"><summary>${passing.length} passing probes</summary>${passingTable}</details>`
    : html`<h3>Passing</h3>${passingTable}`}
</section>`;
}
