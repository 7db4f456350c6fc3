// A seeded, deterministic mutator over the shipped example configs, and the
// checks a mutated file's `vigil check-config` verdict must pass (issue 11):
// exit 0 or 2, never a stack trace or "internal error", and for exit 2 every
// problem at a location (a YAML path or a line). Used by
// test/config/config-fuzz.test.ts (a few hundred cases) and
// bench/config-fuzz.ts (thousands).
//
// A case is (example, seed): the same pair always yields the same mutations
// and the same text, and describeCase() prints both the pair and what was done,
// so a failure can be reproduced with generateCase(example, seed).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseDocument, visit, isCollection, isScalar, type Node } from 'yaml';
import { Agent } from '../../src/agent.js';
import { formatProblems, loadConfigFile, type ConfigProblem } from '../../src/config/load.js';
import { makeSelfSignedCert } from './tls.js';

export const EXAMPLES_DIR = resolve(import.meta.dirname, '../../examples');

/** mulberry32: a tiny 32-bit PRNG, good enough to pick mutations, and the same on every machine. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string, to mix an example's name into its cases' seeds. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export interface Example { readonly name: string; readonly text: string }

export interface FuzzSetup {
  readonly dir: string;
  readonly examples: readonly Example[];
  cleanup(): void;
}

/** examples/*.yaml and examples/<dir>/*.yaml (e.g. groups/vigil-group-systemd.yaml), as paths relative to examples/. */
export function exampleConfigNames(): string[] {
  const out: string[] = [];
  for (const e of readdirSync(EXAMPLES_DIR, { withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.yaml')) out.push(e.name);
    if (e.isDirectory()) {
      for (const n of readdirSync(join(EXAMPLES_DIR, e.name))) if (n.endsWith('.yaml')) out.push(`${e.name}/${n}`);
    }
  }
  return out.sort();
}

/**
 * Every example config (exampleConfigNames()), with each /etc/vigil/NAME it references pointed at a
 * file of that name in a temp dir (a random secret, or for *.pem a real
 * certificate or key made by openssl), as test/failover/config.test.ts and
 * test/remediation/examples.test.ts do: unmutated, every example is valid.
 */
export function setUpExamples(): FuzzSetup {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-config-fuzz-'));
  const cert = makeSelfSignedCert({ cn: 'vigil-fuzz' });
  try {
    const names = exampleConfigNames();
    const files = new Set<string>();
    const examples = names.map((name) => {
      const text = readFileSync(join(EXAMPLES_DIR, name), 'utf8').replace(/\/etc\/vigil\/([A-Za-z0-9._-]+)/g, (_all, file: string) => {
        files.add(file);
        return join(dir, file);
      });
      return { name, text };
    });
    for (const file of files) {
      const content = !file.endsWith('.pem') ? `${'0123456789abcdef'.repeat(4)}\n` : /key/.test(file) ? cert.key : cert.cert;
      writeFileSync(join(dir, file), content, { mode: 0o600 });
    }
    return { dir, examples, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } finally {
    cert.cleanup();
  }
}

export interface FuzzCase {
  readonly example: string;
  readonly seed: number;
  /** What was done, in order: enough to see the case without regenerating it. */
  readonly mutations: readonly string[];
  readonly text: string;
}

export function describeCase(c: FuzzCase): string {
  return `${c.example} seed=${c.seed} (generateCase(${JSON.stringify(c.example)}, ${c.seed})): ${c.mutations.join('; ')}`;
}

type Rng = () => number;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)];

/** Junk for a scalar: [what the description says, the YAML written]. */
const JUNK: ReadonlyArray<readonly [string, string]> = [
  ['0', '0'], ['-1', '-1'], ['1.5', '1.5'], ['1e400', '1e400'], ['-1e400', '-1e400'], ['2^70', '1180591620717411303424'],
  ['.nan', '.nan'], ['.inf', '.inf'], ['0x1F', '0x1F'], ['0o17', '0o17'], ['empty', ''], ['""', '""'], ["''", "''"],
  ['~', '~'], ['null', 'null'], ['true', 'true'], ['no', 'no'], ['[]', '[]'], ['{}', '{}'], ['[1, 2]', '[1, 2]'],
  ['{ a: 1 }', '{ a: 1 }'], ['{ file: /nonexistent }', '{ file: /nonexistent/fuzz }'],
  ['5 seconds', '5 seconds'], ['1h30', '1h30'], ['-5s', '-5s'], ['0s', '0s'], ['1ms', '1ms'],
  ['host:port junk', '[::1:99999'], ['host:99999', 'example.com:99999'], [':0', ':0'],
  ['unset ${ENV}', '"${VIGIL_FUZZ_UNSET_VARIABLE}"'], ['${HOME}', '"${HOME}"'],
  ['unicode', '"ünïcødé ✓ 🚀 ‮rtl"'], ['lone surrogate escape', '"\\ud800"'],
  ['control characters (escaped)', '"a\\x01b\\x07c\\x1b[31mred\\nnewline\\0nul"'],
  ['raw control character', 'a\u0001b'], ['raw escape sequence', '\u001b[2J'], ['NUL byte', 'a\u0000b'],
  ['long string (5000)', 'x'.repeat(5000)], ['long quoted string (5000)', `"${'y'.repeat(5000)}"`],
  ['!!binary', '!!binary aGVsbG8='], ['!!timestamp', '!!timestamp 2001-12-14'], ['!custom tag', '!fuzz x'],
  ['!!int on text', '!!int abc'], ['!!map on a scalar', '!!map x'],
  ['block scalar |', '|\n  one\n  two'], ['folded >-', '>-\n  folded'], ['indicator @', '@x'], ['indicator `', '`x'],
  ['indicator %', '%x'], ['quote unclosed', '"open'], ['single quote unclosed', "'open"], ['comment only', '# nothing'],
  ['key in value', 'a: b: c'], ['dash', '-'], ['question', '? x'], ['regex junk', '"[unclosed(("'],
  ['cron junk', '"*/0 * * * * * *"'], ['url junk', '"http://[::1"'], ['url no scheme', 'example.com/health'],
  ['path traversal', '../../../../etc/passwd'], ['directory', '/'], ['proc file', '/proc/self/environ'],
  ['the word undefined', 'undefined'], ['[object Object]', '"[object Object]"'], ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
];

/** Nesting depths from 50 to 5000, spread evenly on a log scale. */
const depth = (rng: Rng) => Math.round(50 * 100 ** rng());

/** Huge values: [description, YAML]. Built on use: a few are 100 KiB. */
const HUGE: ReadonlyArray<readonly [string, (rng: Rng) => string]> = [
  ['100 KiB plain string', () => 'x'.repeat(100 * 1024)],
  ['100 KiB quoted unicode string', () => `"${'é'.repeat(50 * 1024)}"`],
  ['duration 99999999999w', () => '99999999999w'],
  ['duration 9999999999999999999999y', () => '9999999999999999999999y'],
  ['400-digit number', () => '9'.repeat(400)],
  ['nested flow sequences', (rng) => { const n = depth(rng); return `${'['.repeat(n)}${']'.repeat(n)}`; }],
  ['nested flow mappings', (rng) => { const n = depth(rng); return `${'{a: '.repeat(n)}1${'}'.repeat(n)}`; }],
  ['nested block sequences', (rng) => `${'- '.repeat(depth(rng))}x`],
  ['flow mapping of 5000 keys', () => `{ ${Array.from({ length: 5000 }, (_, i) => `k${i}: ${i}`).join(', ')} }`],
  ['flow sequence of 20000 items', () => `[${Array.from({ length: 20000 }, (_, i) => `${i}`).join(', ')}]`],
  ['2000 duplicate keys', () => `{ ${Array.from({ length: 2000 }, () => 'k: 1').join(', ')} }`],
];

interface Site { readonly start: number; readonly end: number; readonly key: boolean }

/** Offsets of the scalars and collections the YAML parser finds (keys and values), in text order. */
function sites(text: string): Site[] {
  const out: Site[] = [];
  let doc;
  try {
    doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false, logLevel: 'silent' });
  } catch {
    return out; // the library's own stack overflow on deep nesting: no sites, other mutations still apply
  }
  visit(doc, {
    Scalar: (key, node) => { add(node, key === 'key'); },
    Map: (key, node) => { add(node, key === 'key'); },
    Seq: (key, node) => { add(node, key === 'key'); },
  });
  function add(node: Node, key: boolean) {
    const r = node.range;
    if (!r || r[0] < 0 || r[1] > text.length || r[1] <= r[0]) return;
    // A block collection's range runs over many lines: the site is its first line only.
    const end = isCollection(node) ? Math.min(r[1], text.indexOf('\n', r[0]) === -1 ? text.length : text.indexOf('\n', r[0])) : r[1];
    if (end > r[0]) out.push({ start: r[0], end, key: key && isScalar(node) });
  }
  return out.sort((a, b) => a.start - b.start);
}

const lineNo = (text: string, offset: number) => text.slice(0, offset).split('\n').length;
const splice = (text: string, s: { start: number; end: number }, value: string) => text.slice(0, s.start) + value + text.slice(s.end);
const shown = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);

interface Applied { readonly text: string; readonly what: string }
type Mutator = (text: string, rng: Rng) => Applied | undefined;

function siteMutation(text: string, rng: Rng, filter: (s: Site) => boolean = (s) => !s.key): Site | undefined {
  const all = sites(text).filter(filter);
  return all.length > 0 ? pick(rng, all) : undefined;
}

const MUTATORS: Record<string, Mutator> = {
  'delete-line': (text, rng) => {
    const lines = text.split('\n');
    const i = int(rng, lines.length);
    lines.splice(i, 1);
    return { text: lines.join('\n'), what: `delete line ${i + 1}` };
  },
  'duplicate-line': (text, rng) => {
    const lines = text.split('\n');
    const i = int(rng, lines.length);
    lines.splice(i, 0, lines[i]);
    return { text: lines.join('\n'), what: `duplicate line ${i + 1}` };
  },
  truncate: (text, rng) => {
    const bytes = Buffer.from(text, 'utf8');
    const at = int(rng, bytes.length + 1);
    // As a file cut mid-character reads back: the partial character becomes U+FFFD.
    return { text: new TextDecoder().decode(bytes.subarray(0, at)), what: `truncate at byte ${at} of ${bytes.length}` };
  },
  junk: (text, rng) => {
    const s = siteMutation(text, rng, (x) => !x.key || rng() < 0.15);
    if (!s) return undefined;
    const [label, value] = pick(rng, JUNK);
    return { text: splice(text, s, value), what: `${s.key ? 'key' : 'value'} ${shown(text.slice(s.start, s.end))} on line ${lineNo(text, s.start)} -> ${label}` };
  },
  indent: (text, rng) => {
    const lines = text.split('\n');
    const i = int(rng, lines.length);
    const delta = pick(rng, [-4, -2, -1, 1, 2, 4]);
    const indent = /^ */.exec(lines[i])![0].length;
    const to = Math.max(0, indent + delta);
    lines[i] = ' '.repeat(to) + lines[i].slice(indent);
    return { text: lines.join('\n'), what: `indent line ${i + 1} from ${indent} to ${to} spaces` };
  },
  tab: (text, rng) => {
    const lines = text.split('\n');
    const i = int(rng, lines.length);
    const where = pick(rng, ['start', 'indent', 'after-colon', 'end', 'middle'] as const);
    const l = lines[i];
    if (where === 'start') lines[i] = `\t${l}`;
    else if (where === 'indent') lines[i] = l.replace(/^ +/, (sp) => '\t'.repeat(Math.max(1, sp.length >> 1)));
    else if (where === 'after-colon') lines[i] = l.replace(/: /, ':\t');
    else if (where === 'end') lines[i] = `${l}\t`;
    else { const at = int(rng, l.length + 1); lines[i] = `${l.slice(0, at)}\t${l.slice(at)}`; }
    return { text: lines.join('\n'), what: `tab at ${where} of line ${i + 1}` };
  },
  swap: (text, rng) => {
    const lines = text.split('\n');
    const a = int(rng, lines.length);
    const b = rng() < 0.5 ? Math.min(lines.length - 1, a + 1) : int(rng, lines.length);
    [lines[a], lines[b]] = [lines[b], lines[a]];
    return { text: lines.join('\n'), what: `swap lines ${a + 1} and ${b + 1}` };
  },
  alias: (text, rng) => {
    const variant = pick(rng, ['unresolved', 'valid', 'forward', 'self', 'merge', 'bomb', 'small-bomb', 'anchor-only'] as const);
    if (variant === 'bomb' || variant === 'small-bomb') {
      const levels = variant === 'bomb' ? 4 + int(rng, 4) : 2 + int(rng, 2);
      const width = variant === 'bomb' ? 6 + int(rng, 5) : 2 + int(rng, 4);
      const ls = [`fz0: &fz0 [${Array(width).fill('"x"').join(', ')}]`];
      for (let l = 1; l < levels; l++) ls.push(`fz${l}: &fz${l} [${Array(width).fill(`*fz${l - 1}`).join(', ')}]`);
      // Either at the top level (unknown keys) or as the value of some key.
      const s = rng() < 0.5 ? siteMutation(text, rng) : undefined;
      const out = `${ls.join('\n')}\n${s ? splice(text, s, `*fz${levels - 1}`) : text}`;
      return { text: out, what: `alias bomb ${width}^${levels} on top${s ? `, used as the value on line ${lineNo(text, s.start)}` : ''}` };
    }
    if (variant === 'merge') {
      const lines = text.split('\n');
      const keyLines = lines.map((l, i) => (/^( *)(?:- )?[a-z_]+:/.test(l) ? i : -1)).filter((i) => i >= 0);
      if (keyLines.length === 0) return undefined;
      const i = pick(rng, keyLines);
      const indent = /^( *)(- )?/.exec(lines[i])!;
      const col = indent[1].length + (indent[2] ? 2 : 0);
      const target = rng() < 0.5 ? '*nowhere' : '{ interval: 5s }';
      lines.splice(i + 1, 0, `${' '.repeat(col)}<<: ${target}`);
      return { text: lines.join('\n'), what: `merge key <<: ${target} after line ${i + 1}` };
    }
    const all = sites(text).filter((x) => !x.key);
    if (all.length === 0) return undefined;
    if (variant === 'unresolved') {
      const s = pick(rng, all);
      return { text: splice(text, s, '*nowhere'), what: `value on line ${lineNo(text, s.start)} -> unresolved alias *nowhere` };
    }
    if (variant === 'self') {
      const s = pick(rng, all);
      return { text: splice(text, s, '&me [*me]'), what: `value on line ${lineNo(text, s.start)} -> self-referencing &me [*me]` };
    }
    if (variant === 'anchor-only') {
      const s = pick(rng, all);
      return { text: splice(text, { start: s.start, end: s.start }, '&lonely '), what: `anchor &lonely on the value on line ${lineNo(text, s.start)}` };
    }
    // valid: anchor on an earlier value, alias on a later one; forward: the other way round.
    let a = pick(rng, all);
    let b = pick(rng, all);
    if (a.start === b.start || (a.start < b.end && b.start < a.end)) return undefined;
    if ((a.start > b.start) === (variant === 'valid')) [a, b] = [b, a];
    // Splice the later site first so the earlier offsets stay right.
    const anchorFirst = a.start < b.start;
    let out = text;
    if (anchorFirst) { out = splice(out, b, '*fz'); out = splice(out, { start: a.start, end: a.start }, '&fz '); }
    else { out = splice(out, { start: a.start, end: a.start }, '&fz '); out = splice(out, b, '*fz'); }
    return { text: out, what: `${variant} alias: &fz on line ${lineNo(text, a.start)}, *fz on line ${lineNo(text, b.start)}` };
  },
  huge: (text, rng) => {
    const s = siteMutation(text, rng);
    if (!s) return undefined;
    const [label, make] = pick(rng, HUGE);
    const value = make(rng);
    return { text: splice(text, s, value), what: `value ${shown(text.slice(s.start, s.end))} on line ${lineNo(text, s.start)} -> ${label}: ${shown(value)} (${value.length} characters)` };
  },
};

export const MUTATION_KINDS = Object.keys(MUTATORS);

/** One case: 1 to 3 mutations of one example, all chosen by the seed. */
export function generateCase(example: Example, seed: number): FuzzCase {
  const rng = mulberry32(hash(example.name) ^ seed);
  const count = 1 + (rng() < 0.35 ? 1 : 0) + (rng() < 0.15 ? 1 : 0);
  let text = example.text;
  const mutations: string[] = [];
  for (let tries = 0; mutations.length < count && tries < 20; tries++) {
    const kind = pick(rng, MUTATION_KINDS);
    const applied = MUTATORS[kind](text, rng);
    if (!applied) continue;
    text = applied.text;
    mutations.push(`${kind}: ${applied.what}`);
  }
  return { example: example.name, seed, mutations, text };
}

/** `count` cases spread over every example, seeds from `firstSeed` on. */
export function* cases(examples: readonly Example[], count: number, firstSeed = 1): Generator<FuzzCase> {
  for (let i = 0; i < count; i++) yield generateCase(examples[i % examples.length], firstSeed + Math.floor(i / examples.length));
}

/**
 * Problems that concern the file as a whole and so have neither path nor line.
 * Every other problem must name where it is.
 */
export const FILE_LEVEL_PROBLEMS: readonly RegExp[] = [
  /^config file is empty: /,
  /^.+ is \d+\.\d MiB; vigil reads config files of at most \d+ MiB$/,
];

export interface Verdict {
  /** The exit code check-config gives. */
  readonly code: number;
  /** What check-config prints (stdout for valid, stderr for problems). */
  readonly output: string;
  readonly problems: readonly ConfigProblem[];
  readonly ms: number;
  /** An exception that escaped the loader, if any. */
  readonly thrown?: string;
  /** Process warnings emitted while loading: Node prints them on stderr, next to check-config's own output. */
  readonly warnings: readonly string[];
}

/** `vigil check-config FILE` in this process: the same calls src/cli.ts's checkConfig makes, the output returned instead of written. */
export async function checkConfigInProcess(file: string, env: NodeJS.ProcessEnv): Promise<Verdict> {
  const warnings: string[] = [];
  const onWarning = (w: Error) => { warnings.push(w.message); };
  process.on('warning', onWarning);
  const t0 = performance.now();
  try {
    const loaded = await loadConfigFile(file, Agent.loadOptions(env));
    const ms = performance.now() - t0;
    await new Promise(setImmediate); // warnings are emitted on the next tick
    if (!loaded.ok) return { code: 2, output: formatProblems(file, loaded.problems), problems: loaded.problems, ms, warnings };
    const n = loaded.config.probes.length;
    return { code: 0, output: `${file}: valid (${n} probe${n === 1 ? '' : 's'})\n`, problems: [], ms, warnings };
  } catch (err) {
    return { code: 1, output: '', problems: [], ms: performance.now() - t0, thrown: err instanceof Error ? err.stack ?? err.message : String(err), warnings };
  } finally {
    process.off('warning', onWarning);
  }
}

/** Words that mean the program, not the file, went wrong; bad only when the input does not contain them itself. */
const FORBIDDEN: ReadonlyArray<readonly [string, RegExp]> = [
  ['a stack trace', /^\s+at .+[(:]\d+/m],
  ['"internal error"', /internal error/i],
  ['"[object Object]"', /\[object Object\]/],
  ['"undefined"', /\bundefined\b/],
  ['"NaN"', /\bNaN\b/],
  ['an exception name', /\b(?:TypeError|RangeError|ReferenceError|SyntaxError|ZodError)\b|node:internal/],
  ['a JavaScript engine error', /Maximum call stack|out of memory|Invalid string length/i],
];

/** Everything wrong with a verdict; empty when it is what issue 11 asks for. */
export function violations(c: FuzzCase, v: Verdict, slowMs = 3000): string[] {
  const out: string[] = [];
  if (v.thrown !== undefined) out.push(`an exception escaped: ${v.thrown}`);
  if (v.code !== 0 && v.code !== 2) out.push(`exit ${v.code}, not 0 or 2`);
  for (const [what, re] of FORBIDDEN) if (re.test(v.output) && !re.test(c.text)) out.push(`the output contains ${what}`);
  if (v.ms > slowMs) out.push(`took ${Math.round(v.ms)} ms`);
  for (const w of v.warnings) out.push(`the process printed a warning: ${w}`);
  if (v.code !== 2) return out;
  if (v.problems.length === 0) out.push('exit 2 without a problem');
  const lineCount = c.text.split('\n').length;
  for (const p of v.problems) {
    if (p.line !== undefined && !(Number.isInteger(p.line) && p.line >= 1 && p.line <= lineCount)) {
      out.push(`problem ${JSON.stringify(p)} names line ${p.line}, not one of the file's ${lineCount} lines`);
    }
    if (!p.path && p.line === undefined && !FILE_LEVEL_PROBLEMS.some((re) => re.test(p.message))) {
      out.push(`problem without a location: ${JSON.stringify(p.message)}`);
    }
  }
  // One problem a line: a message that breaks its line makes an unlocated
  // line of its own, and terminal escapes rewrite what the operator sees.
  const lines = v.output.replace(/\n$/, '').split('\n');
  if (lines.length !== v.problems.length + 1) out.push(`${v.problems.length} problems printed on ${lines.length - 1} lines`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(v.output)) out.push('the output carries control characters (other than tab and newline)');
  return out;
}
