// Any YAML file vigil reads (vigil.yaml, a web config file), checked
// against a zod schema: the same guards against hostile input, and every
// problem reported with its YAML path and line. Nothing here throws for bad
// input: callers get a list.
import { CST, Lexer, LineCounter, parseDocument, isAlias, isMap, isSeq, isPair, isScalar, visit, type Node, type Document, type Pair, type YAMLMap } from 'yaml';
import type { z } from 'zod';

export interface ConfigProblem {
  /** YAML path like `probes[1].timeout`; empty for file-level problems. */
  readonly path: string;
  readonly line?: number;
  readonly message: string;
}

/** A config is a few KiB; a file far larger is a mistake (or an attack) that would cost seconds and GiB to parse. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** How many times aliases may be expanded in one file: enough for any sane reuse, far below an alias bomb. */
const MAX_ALIAS_COUNT = 1000;
/**
 * How deep collections may nest (vigil's own keys go 6 deep). The yaml
 * library's parser and composer recurse once a level: a few thousand levels
 * overflowed the stack, which escaped as "internal error" or, when it struck
 * inside V8's regular-expression compiler, aborted the process.
 */
const MAX_NESTING = 100;

export const tooLarge = (file: string, bytes: number): ConfigProblem => ({
  path: '', message: `${file} is ${(bytes / 1024 / 1024).toFixed(1)} MiB; vigil reads config files of at most ${MAX_CONFIG_BYTES / 1024 / 1024} MiB`,
});

export type YamlResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/**
 * Any YAML file vigil reads (vigil.yaml, a web config file) checked against a
 * zod schema, with the same guards (size, nesting, aliases, duplicate keys)
 * and every problem by YAML path and line.
 */
export function parseYamlWith<S extends z.ZodTypeAny>(text: string, schema: S, say: { empty: string; notMapping: string; emptyIsValid?: boolean }): YamlResult<z.output<S>> {
  if (text.length > MAX_CONFIG_BYTES) return { ok: false, problems: [tooLarge('the config', Buffer.byteLength(text))] };
  const deep = tooDeep(text);
  if (deep !== undefined) {
    return { ok: false, problems: [{ path: '', line: text.slice(0, deep).split('\n').length, message: `collections nest more than ${MAX_NESTING} levels deep here; a vigil config needs fewer than 10` }] };
  }
  const lineCounter = new LineCounter();
  // logLevel error: the library reports through doc.errors, never by printing a warning next to check-config's output.
  // uniqueKeys off: its check compares each key with every earlier one (40 000 keys took minutes); duplicateKeys does it in one pass.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, logLevel: 'error' });
  if (doc.errors.length > 0) return { ok: false, problems: [firstSyntaxError(doc, lineCounter)] };
  // Duplicate keys do not confuse the parser about the rest: each is its own problem.
  const duplicates = duplicateKeys(doc, lineCounter);
  if (duplicates.length > 0) return { ok: false, problems: duplicates.sort((a, b) => a.line - b.line) };
  // Only comments, blank lines or a bare `---`: no document at all. (Asked of the
  // parser rather than a regular expression, which backtracked exponentially
  // on a long comment header.)
  let js: unknown;
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    if (!say.emptyIsValid) return { ok: false, problems: [{ path: '', message: say.empty }] };
    js = {};
  } else {
    if (!isMap(doc.contents)) {
      return { ok: false, problems: [{ path: '', line: rangeLine(doc.contents, lineCounter) ?? 1, message: say.notMapping }] };
    }
    const keyProblems = nonPlainKeys(doc, lineCounter);
    if (keyProblems.length > 0) return { ok: false, problems: keyProblems };
    try {
      js = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      return { ok: false, problems: [aliasProblem(doc, lineCounter, err)] };
    }
  }
  const parsed = schema.safeParse(js);
  if (parsed.success) return { ok: true, value: parsed.data as z.output<S> };
  return { ok: false, problems: zodProblems(parsed.error, doc, lineCounter) };
}

/** What a syntax error means when the yaml library's words do not say what to do. */
const SYNTAX_HINTS: Readonly<Record<string, string>> = {
  TAB_AS_INDENT: 'indent with spaces, not tabs',
};

/**
 * The first syntax error only: after one, the parser's view of the rest is
 * off (a tab in one line gave 46 more "errors", none of them real), so what
 * follows is not worth reading until this one is fixed.
 */
function firstSyntaxError(doc: Document, lc: LineCounter): ConfigProblem {
  const first = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0])[0];
  const hint = SYNTAX_HINTS[first.code];
  const more = doc.errors.length > 1 ? '; the lines after it are not checked until it is fixed' : '';
  // prettyErrors is off, so linePos is not filled in: the line comes from the offset.
  return { path: '', line: lc.linePos(first.pos[0]).line, message: `YAML syntax error: ${first.message.split('\n')[0]}${hint ? ` (${hint})` : ''}${more}` };
}

/** The yaml library throws (instead of reporting) for aliases it cannot or will not resolve: say which, where. */
function aliasProblem(doc: Document, lc: LineCounter, err: unknown): ConfigProblem {
  const text = err instanceof Error ? err.message : String(err);
  const unresolved = /^Unresolved alias[^:]*: (.*)$/.exec(text);
  let line: number | undefined;
  visit(doc, { Alias: (_k, node) => {
    if (!unresolved || node.source === unresolved[1]) { line = rangeLine(node, lc); return visit.BREAK; }
    return undefined;
  } });
  return unresolved
    ? { path: '', line, message: `alias *${unresolved[1]} refers to no anchor &${unresolved[1]} defined before it` }
    : { path: '', line, message: `YAML aliases expand too much (${/Excessive alias count/i.test(text) ? `more than ${MAX_ALIAS_COUNT} expansions` : text.slice(0, 200)}); write the values out` };
}

/**
 * Offset of the first token nested deeper than MAX_NESTING, or undefined. Counted
 * over the lexer's tokens (the lexer is a loop, not a recursion) as an upper
 * bound: open flow brackets, plus for each open indentation level the block
 * indicators (- ? :) on the line that opened it.
 */
function tooDeep(text: string): number | undefined {
  const levels: Array<{ indent: number; opened: number }> = [];
  let offset = 0;
  let flow = 0;
  let block = 0;
  let indent = 0;
  let lineStart = true;
  let scalarNext = false;
  for (const token of new Lexer().lex(text)) {
    if (token === '\x02' || token === '\x18') continue; // mode markers, not source text
    if (token === '\x1f') { scalarNext = true; continue; } // the next token is a scalar's source, whatever it looks like
    const at = offset;
    offset += token.length;
    const type = scalarNext ? 'scalar' : CST.tokenType(token);
    scalarNext = false;
    if (type === 'newline' || (type === 'space' && token.includes('\n'))) {
      lineStart = true;
      indent = token.length - token.lastIndexOf('\n') - 1;
      continue;
    }
    if (type === 'space') { if (lineStart) indent = token.length; continue; }
    if (type === 'comment') continue;
    if (lineStart && flow === 0) {
      // The line's first content: it closes the levels at its indentation or deeper, and opens one.
      while (levels.length > 0 && levels[levels.length - 1].indent >= indent) block -= levels.pop()!.opened;
      levels.push({ indent, opened: 0 });
    }
    lineStart = type === 'scalar' && token.endsWith('\n');
    if (type === 'flow-seq-start' || type === 'flow-map-start') flow++;
    else if (type === 'flow-seq-end' || type === 'flow-map-end') flow = Math.max(0, flow - 1);
    else if (flow === 0 && (type === 'seq-item-ind' || type === 'explicit-key-ind' || type === 'map-value-ind')) {
      levels[levels.length - 1].opened++;
      block++;
    }
    if (flow + block > MAX_NESTING) return at;
  }
  return undefined;
}

/** Every key that repeats an earlier one of its mapping, at its line (the message the yaml library's own check gave). */
function duplicateKeys(doc: Document, lc: LineCounter): Array<ConfigProblem & { line: number }> {
  const problems: Array<ConfigProblem & { line: number }> = [];
  visit(doc, { Map: (_k, map) => {
    const seen = new Set<unknown>();
    for (const pair of map.items) {
      // As the library compared: scalars by value, any other key only with itself.
      const id = isScalar(pair.key) ? pair.key.value : pair.key;
      if (!seen.has(id)) { seen.add(id); continue; }
      const line = rangeLine(pair.key, lc) ?? rangeLine(pair.value, lc) ?? rangeLine(map, lc) ?? 1;
      problems.push({ path: '', line, message: 'YAML syntax error: Map keys must be unique' });
    }
  } });
  return problems;
}

/**
 * Keys that are not plain names (`[a, b]: x`, `? {a: 1}`, `!!binary …: x`): a
 * JavaScript object cannot have them, and the yaml library turns them into
 * text that lineOf cannot find again. Said at the key, by the path of its mapping.
 */
function nonPlainKeys(doc: Document, lc: LineCounter): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  visit(doc, { Pair: (_k, pair, ancestors) => {
    const key = pair.key;
    if (key === null || isAlias(key) || (isScalar(key) && (key.value === null || ['string', 'number', 'boolean'].includes(typeof key.value)))) return undefined;
    const what = isMap(key) ? 'a mapping' : isSeq(key) ? 'a sequence' : `a ${(key as Node).tag?.replace('tag:yaml.org,2002:', '!!') ?? 'tagged'} value`;
    const path: Array<string | number> = [];
    ancestors.forEach((a, i) => {
      const next = ancestors[i + 1];
      if (isPair(a) && isScalar(a.key)) path.push(String(a.key.value));
      else if (isSeq(a) && next !== undefined) path.push(a.items.indexOf(next as never));
    });
    problems.push({ path: formatPath(path), line: rangeLine(key, lc), message: `a key must be a plain name (like interval:), not ${what}` });
    return visit.SKIP;
  } });
  return problems;
}

function zodProblems(error: z.ZodError, doc: Document, lc: LineCounter): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const index: KeyIndex = new WeakMap();
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        problems.push({ path: formatPath(path), line: lineOf(doc, lc, path, true, index), message: 'unknown key' });
      }
      continue;
    }
    const message = issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is required' : issue.message;
    problems.push({ path: formatPath(issue.path), line: lineOf(doc, lc, issue.path, false, index), message });
  }
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return problems.filter((p, i) => i === 0 || p.path !== problems[i - 1].path || p.message !== problems[i - 1].message);
}

export function formatPath(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

/** Line of the node at `path` (of its key when `atKey`), or of its nearest existing parent. */
function lineOf(doc: Document, lc: LineCounter, path: ReadonlyArray<string | number>, atKey: boolean, index: KeyIndex): number | undefined {
  let node: unknown = doc.contents;
  let line = rangeLine(node, lc);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = pairByKey(node, seg, index);
      if (!pair) break;
      line = rangeLine(pair.key, lc) ?? line;
      node = pair.value;
      if (!atKey || seg !== path[path.length - 1]) line = rangeLine(node, lc) ?? line;
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      node = node.items[seg];
      line = rangeLine(node, lc) ?? line;
    } else break;
  }
  return line;
}

/** Each mapping's pairs by key, built on first use: a search per problem cost minutes on a mapping of 40 000 unknown keys. */
type KeyIndex = WeakMap<YAMLMap, Map<string, Pair>>;

/** The first pair of `map` whose scalar key is `key`, compared as the keys of the parsed object are: as text (`1:` is "1", `~:` is ""). */
function pairByKey(map: YAMLMap, key: string | number, index: KeyIndex): Pair | undefined {
  let byKey = index.get(map);
  if (!byKey) {
    byKey = new Map();
    for (const p of map.items) {
      const text = isPair(p) && isScalar(p.key) ? String(p.key.value ?? '') : undefined;
      if (text !== undefined && !byKey.has(text)) byKey.set(text, p);
    }
    index.set(map, byKey);
  }
  return byKey.get(String(key));
}

function rangeLine(node: unknown, lc: LineCounter): number | undefined {
  const range = (node as Node | undefined)?.range;
  return range ? lc.linePos(range[0]).line : undefined;
}

/** Control characters other than tab: a value's newline would start a line of its own, an escape sequence would rewrite the terminal. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;
const escapeControl = (c: string) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** One line a problem: control characters that a value carried into a path or message are shown escaped, as in a JSON string. */
export function formatProblems(file: string, problems: readonly ConfigProblem[]): string {
  const lines = problems.map((p) => {
    const path = p.path.replace(CONTROL, escapeControl);
    const message = p.message.replace(CONTROL, escapeControl);
    const where = path ? `${path}${p.line !== undefined ? ` (line ${p.line})` : ''}` : p.line !== undefined ? `line ${p.line}` : '';
    return where ? `  ${where}: ${message}` : `  ${message}`;
  });
  return `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${lines.join('\n')}\n`;
}
