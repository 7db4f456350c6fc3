// The page around the sections: head (title, optional meta refresh, the one
// inline stylesheet), the footer with the JSON endpoints. No scripts, no
// external assets: the page reads the same with JavaScript off.
import { html, Markup } from './html.js';

const STYLE = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1400px;margin:0 auto;padding:12px 20px 40px}
h1{font-size:20px;margin:8px 0}h2{font-size:16px;margin:22px 0 6px}h3{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e8}
th,td{text-align:left;vertical-align:top;padding:4px 8px;border-bottom:1px solid #eceff3}
th{background:#eef1f5;font-weight:600;white-space:nowrap}
td.msg{word-break:break-word;max-width:520px}td.n{text-align:right;white-space:nowrap}
.verdict{padding:12px 16px;border-radius:6px;color:#fff;margin:8px 0}.verdict p{margin:4px 0}
.v-ok{background:#1f7a3f}.v-warning{background:#a86400}.v-critical{background:#b3261e}
.st{display:inline-block;min-width:64px;text-align:center;border-radius:3px;padding:0 4px;font-weight:600;font-size:12px;color:#fff}
.st-critical,.st-open,.st-failed{background:#b3261e}.st-warning,.st-blocked{background:#a86400}.st-passing,.st-ok{background:#1f7a3f}
.st-unknown,.st-none{background:#6b7280}.st-active{background:#1d4ed8}
tr.critical td{background:#fdecea}tr.warning td{background:#fff6e0}
.strip{font-family:ui-monospace,monospace;letter-spacing:1px;white-space:nowrap}.s-ok{color:#1f7a3f}.s-fail{color:#b3261e;font-weight:700}
.muted{color:#6b7280}.switches span{display:inline-block;margin:2px 12px 2px 0}
code{font-family:ui-monospace,monospace;font-size:13px}summary{cursor:pointer;margin:6px 0;font-weight:600}
footer{margin-top:28px;color:#6b7280;font-size:12px}
table.passing i{color:#6b7280;font-style:normal}table.passing td.msg{color:#6b7280}
`;

/** The stylesheet is a constant of this file, not data: it goes in as markup. */
const STYLE_MARKUP = new Markup(STYLE);

export interface LayoutOptions {
  readonly title: string;
  /** Seconds between reloads (meta refresh); undefined: no auto-refresh. */
  readonly refresh: number | undefined;
  readonly generatedAt: string;
  readonly version: string;
}

export function layout(opts: LayoutOptions, body: readonly Markup[]): Markup {
  const refreshNote = opts.refresh !== undefined
    ? html`reloads every ${opts.refresh}s (<a href="/">stop</a>)`
    : html`auto-refresh: <a href="/?refresh=5">every 5s</a>`;
  return html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
${opts.refresh !== undefined ? html`<meta http-equiv="refresh" content="${opts.refresh}">` : ''}
<title>${opts.title}</title><style>${STYLE_MARKUP}</style></head>
<body><main>
${body}
<footer>vigil ${opts.version} · rendered ${opts.generatedAt} · ${refreshNote} ·
the same data as JSON: <a href="/status">/status</a> · <a href="/ready">/ready</a> · <a href="/healthz">/healthz</a> · <a href="/metrics">/metrics</a></footer>
</main></body></html>
`;
}
