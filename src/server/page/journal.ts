// The newest remediation journal entries: what vigil did (or was told to
// do), newest first, each with its outcome and detail.
import type { RemediationDoc } from '../../status/shape.js';
import { clip, relative } from '../../status/format.js';
import { html, when, type Markup } from './html.js';

export function journalSection(rem: RemediationDoc | undefined, now: number): Markup {
  const j = rem?.journal;
  if (!j) return html``;
  const recent = j.recent ?? [];
  return html`<section id="journal"><h2>Journal: the last ${recent.length} entries</h2>
<p class="muted"><code>${j.path}</code>, ${j.size_bytes} bytes</p>
${recent.length === 0 ? html`<p class="muted">Nothing journalled yet.</p>` : html`<table><tr><th>When</th><th>Event</th><th>About</th><th>Outcome</th><th>Detail</th></tr>
${recent.map((e) => html`<tr class="${e.outcome && /failed/.test(e.outcome) ? 'critical' : ''}"><td>${when(e.time, relative(e.time, now))}</td><td>${e.event}</td>
<td>${e.subject ?? ''}</td><td>${e.outcome ?? ''}</td><td class="msg">${clip(e.detail, 300)}</td></tr>`)}</table>`}
</section>`;
}
