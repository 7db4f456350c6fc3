// HTML built by hand, escaped by construction: `html\`…\`` escapes every
// interpolated value unless it is itself the result of `html` (Markup), so
// a probe message, a rule's detail or a member name can never become markup.
// Arrays are joined; null, undefined and false render as nothing.

export class Markup {
  constructor(readonly text: string) {}
  toString(): string { return this.text; }
}

export type Interpolation = string | number | boolean | null | undefined | Markup | readonly Interpolation[];

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe inside an element and inside a quoted attribute value. */
export function esc(text: string): string {
  // Most values (names, states, times) need nothing: testing first skips the replace and its callback.
  return /[&<>"']/.test(text) ? text.replace(/[&<>"']/g, (c) => ESCAPES[c]) : text;
}

function render(v: Interpolation): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Markup) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  return esc(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Markup {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Markup(out);
}

/** A time shown relative to the render ("3m ago"), with the exact time on hover. */
export function when(iso: string | null | undefined, text: string): Markup {
  return iso ? html`<time title="${iso}">${text}</time>` : html``;
}
