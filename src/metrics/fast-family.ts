// Metric families for the per-probe series, with the small part of
// prom-client's API that probe-metrics.ts uses (set / inc / observe / remove),
// registered in the same Registry, but rendering their own exposition text.
//
// Why: with 1000 probes there are ~26,000 per-probe series, and prom-client's
// generic path (an object per sample, per-sample label formatting and
// escaping) took ~90 ms of blocked event loop per scrape. Here each series
// keeps its label text rendered once, when it is created, and a scrape is
// string concatenation (~10 ms). The registry is taught to ask these families
// for their text (see teachRegistry); everything else in it is untouched.
import type { Registry } from 'prom-client';

type Labels = Readonly<Record<string, string | number>>;

function escapeLabel(v: string): string {
  return /[\\\n"]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

/**
 * Joins into one flat string. Series text lives as long as the series, and
 * `+` or a template literal builds a rope of small string objects instead
 * (with 1000 probes: ~170,000 of them, 5 MiB, for the life of the agent).
 */
function flat(...parts: string[]): string {
  return parts.join('');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** As prom-client writes values. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return `${v}`;
}

/** Where a family writes its exposition text. */
export interface TextSink { write(text: string): void }

interface FamilyOptions<N extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly N[];
}

export abstract class FastFamily<N extends string, S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly N[];
  abstract readonly type: 'gauge' | 'counter' | 'histogram';
  protected readonly entries = new Map<string, S>();

  constructor(opts: FamilyOptions<N>) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
  }

  protected key(labels: Labels): string {
    // Label values of one series joined in declared order; \u0001 cannot occur in them.
    const parts: string[] = [];
    for (const n of this.labelNames) parts.push(String(labels[n] ?? ''));
    return parts.join('\u0001');
  }

  protected labelText(labels: Labels): string {
    const parts: string[] = [];
    for (const n of this.labelNames) {
      const v = labels[n];
      if (v !== undefined) parts.push(flat(n, '="', escapeLabel(String(v)), '"'));
    }
    return parts.join(',');
  }

  remove(labels: Labels): void {
    this.entries.delete(this.key(labels));
  }

  reset(): void {
    this.entries.clear();
  }

  protected header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}`;
  }

  /** The family's exposition text, without a trailing newline (as prom-client's per-metric text). */
  render(): string {
    const parts: string[] = [];
    this.renderTo({ write: (text) => { parts.push(text); } });
    return parts.join('');
  }

  /** The same text, piece by piece: a scrape streams it into bounded chunks (see exposition.ts). */
  abstract renderTo(out: TextSink): void;

  /** prom-client's shape, for getMetricsAsJSON and getSingleMetric callers. */
  abstract get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }> }>;
}

/** One series of a gauge or counter; a caller holding it sets `value` without a label lookup. */
export interface ValueSeries { readonly text: string; readonly labels: Labels; value: number }

class ValueFamily<N extends string> extends FastFamily<N, ValueSeries> {
  readonly type: 'gauge' | 'counter';

  constructor(opts: FamilyOptions<N>, type: 'gauge' | 'counter') {
    super(opts);
    this.type = type;
  }

  /**
   * The series for these labels, created at zero if new. Hot paths keep it
   * and write `value` directly; it stays valid until remove() or reset().
   */
  series(labels: Labels): ValueSeries {
    const k = this.key(labels);
    let s = this.entries.get(k);
    if (!s) {
      const text = this.labelText(labels);
      s = { text: text ? flat(this.name, '{', text, '} ') : flat(this.name, ' '), labels: { ...labels }, value: 0 };
      this.entries.set(k, s);
    }
    return s;
  }

  renderTo(out: TextSink): void {
    out.write(this.header());
    for (const s of this.entries.values()) { out.write('\n'); out.write(s.text); out.write(formatValue(s.value)); }
  }

  async get() {
    return {
      name: this.name, help: this.help, type: this.type, aggregator: 'sum' as const,
      values: [...this.entries.values()].map((s) => ({ labels: { ...s.labels }, value: s.value })),
    };
  }
}

export class FastGauge<N extends string = string> extends ValueFamily<N> {
  constructor(opts: FamilyOptions<N>) { super(opts, 'gauge'); }

  set(labels: Labels, value: number): void {
    this.series(labels).value = value;
  }
}

export class FastCounter<N extends string = string> extends ValueFamily<N> {
  constructor(opts: FamilyOptions<N>) { super(opts, 'counter'); }

  inc(labels: Labels, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} can only go up (got ${by})`);
    this.series(labels).value += by;
  }
}

/** One series of a histogram, for observeSeries(). */
export interface HistogramSeries { readonly text: string; readonly bucketText: string[]; readonly labels: Labels; readonly counts: number[]; sum: number; count: number }

export class FastHistogram<N extends string = string> extends FastFamily<N, HistogramSeries> {
  readonly type = 'histogram' as const;
  private readonly upper: readonly number[];
  private readonly leText: readonly string[];

  constructor(opts: FamilyOptions<N> & { buckets: readonly number[] }) {
    super(opts);
    this.upper = [...opts.buckets].sort((a, b) => a - b);
    this.leText = [...this.upper.map(formatValue), '+Inf'];
  }

  observe(labels: Labels, value: number): void {
    this.observeSeries(this.series(labels), value);
  }

  /** As observe(), into a series the caller kept from series(). */
  observeSeries(s: HistogramSeries, value: number): void {
    for (let i = 0; i < this.upper.length; i++) if (value <= this.upper[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** The series for these labels, created empty if new; valid until remove() or reset(). */
  series(labels: Labels): HistogramSeries {
    const k = this.key(labels);
    let s = this.entries.get(k);
    if (!s) {
      const text = this.labelText(labels);
      s = {
        text: text ? flat('{', text, '} ') : ' ',
        bucketText: this.leText.map((le) => flat(this.name, '_bucket{le="', le, '"', text ? ',' : '', text, '} ')),
        labels: { ...labels }, counts: new Array<number>(this.upper.length).fill(0), sum: 0, count: 0,
      };
      this.entries.set(k, s);
    }
    return s;
  }

  renderTo(out: TextSink): void {
    out.write(this.header());
    for (const s of this.entries.values()) {
      for (let i = 0; i < s.counts.length; i++) { out.write('\n'); out.write(s.bucketText[i]); out.write(String(s.counts[i])); }
      out.write('\n'); out.write(s.bucketText[s.counts.length]); out.write(String(s.count));
      out.write('\n'); out.write(this.name); out.write('_sum'); out.write(s.text); out.write(formatValue(s.sum));
      out.write('\n'); out.write(this.name); out.write('_count'); out.write(s.text); out.write(String(s.count));
    }
  }

  async get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of this.entries.values()) {
      s.counts.forEach((c, i) => values.push({ labels: { le: this.upper[i], ...s.labels }, value: c, metricName: `${this.name}_bucket` }));
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum' as const, values };
  }
}

/**
 * Registers fast families in a prom-client Registry and makes the registry
 * use their own text. Done on the instance (the registry is built with the
 * catalogue), so getMetricsAsArray still lists them with name, help and type.
 */
export function teachRegistry(registry: Registry, families: ReadonlyArray<FastFamily<string, unknown>>): void {
  // prom-client's Registry has this method but does not declare it.
  const reg = registry as unknown as { getMetricsAsString(m: unknown): Promise<string> };
  const generic = reg.getMetricsAsString.bind(registry);
  reg.getMetricsAsString = async (m: unknown) => (m instanceof FastFamily ? m.render() : generic(m));
  for (const f of families) registry.registerMetric(f as never);
}
