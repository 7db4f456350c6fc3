// Terminal output: colour only when stdout is a terminal (and NO_COLOR is
// not set), and tables whose columns fit the width (at most 100 columns),
// the last column taking what is left and every cell cut with an ellipsis.
export interface Style {
  readonly color: boolean;
  /** Usable width in columns. */
  readonly width: number;
}

export const MAX_WIDTH = 100;

export function terminalStyle(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): Style {
  const tty = stream.isTTY === true;
  return { color: tty && env.NO_COLOR === undefined, width: Math.max(60, Math.min(MAX_WIDTH, tty ? stream.columns || MAX_WIDTH : MAX_WIDTH)) };
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, grey: 90, bold: 1 } as const;
export type Colour = keyof typeof CODES;

export function paint(s: Style, colour: Colour | undefined, text: string): string {
  return s.color && colour && text ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text;
}

/** Display width: characters (the few wide ones vigil prints are not wide). */
const width = (text: string) => [...text].length;

export function cut(text: string, max: number): string {
  const chars = [...text.replace(/\s*\n\s*/g, ' ')];
  if (chars.length <= max) return chars.join('');
  return max <= 1 ? chars.slice(0, max).join('') : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Text folded at spaces into lines of at most `max` columns, each after
 * `indent`; at most `maxLines`, the last cut with an ellipsis. For the
 * sentences a screen must show whole: why a rule did not act, why an action failed.
 */
export function wrap(text: string, max: number, indent: string, maxLines = 4): string[] {
  const room = Math.max(10, max - indent.length);
  const words = text.replace(/\s+/g, ' ').trim().split(' ');
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && width(cur) + 1 + width(w) > room) { lines.push(cur); cur = ''; }
    cur = cur ? `${cur} ${w}` : w;
    while (width(cur) > room) { lines.push([...cur].slice(0, room).join('')); cur = [...cur].slice(room).join(''); }
  }
  if (cur) lines.push(cur);
  const kept = lines.length > maxLines ? [...lines.slice(0, maxLines - 1), cut(lines.slice(maxLines - 1).join(' '), room)] : lines;
  return kept.map((l) => indent + l);
}

export interface Column {
  readonly title: string;
  /** Widest this column gets (the last column takes the rest of the line). */
  readonly max: number;
  readonly align?: 'right';
}

export interface Cell { readonly text: string; readonly colour?: Colour }

/** A table that fits `style.width`: headers, then rows; cells cut to their column. */
export function table(s: Style, columns: readonly Column[], rows: ReadonlyArray<ReadonlyArray<string | Cell>>): string[] {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'string' ? { text: c } : c)));
  const widths = columns.map((c, i) => Math.min(c.max, Math.max(width(c.title), ...cells.map((r) => width(r[i]?.text ?? '')))));
  const fixed = widths.slice(0, -1).reduce((a, b) => a + b + 2, 0);
  widths[widths.length - 1] = Math.max(8, Math.min(widths[widths.length - 1], s.width - fixed));
  const line = (r: ReadonlyArray<Cell>, head: boolean) => r.map((c, i) => {
    const w = widths[i];
    const t = cut(c.text, w);
    const pad = ' '.repeat(Math.max(0, w - width(t)));
    const text = i === r.length - 1 ? t : columns[i].align === 'right' ? pad + t : t + pad;
    return head ? paint(s, 'bold', text) : paint(s, c.colour, text);
  }).join('  ').trimEnd();
  return [line(columns.map((c) => ({ text: c.title })), true), ...cells.map((r) => line(r, false))];
}
