// Every PromQL expression vigil ships: dashboard panel targets and annotation
// queries (with Grafana's variables replaced by values Prometheus accepts) and
// every alerting and recording rule. Used by rules.test.ts and by the
// end-to-end test that runs them all against a live Prometheus.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RULES_FILE = 'alerts/vigil.rules.yml';
export const DASHBOARD_DIR = 'dashboards';

/**
 * What each Grafana variable becomes. Template variables select everything;
 * interval variables become durations that work at any scrape interval of a
 * few seconds to a minute.
 */
export const GRAFANA_VARIABLES: Readonly<Record<string, string>> = {
  job: '.*',
  instance: '.*',
  probe: '.*',
  datasource: 'prometheus',
  __rate_interval: '1m',
  __interval: '1m',
  __range: '1h',
};

export interface Expression { source: string; expr: string }

export interface GrafanaTarget { refId?: string; expr?: string; datasource?: unknown; [k: string]: unknown }
export interface GrafanaPanel {
  id?: number; type: string; title?: string; datasource?: unknown;
  targets?: GrafanaTarget[]; panels?: GrafanaPanel[]; [k: string]: unknown;
}
export interface GrafanaAnnotation {
  name?: string; builtIn?: number; expr?: string; datasource?: unknown;
  target?: { expr?: string }; [k: string]: unknown;
}
export interface GrafanaVariable { name: string; type: string; query?: unknown; datasource?: unknown; [k: string]: unknown }
export interface GrafanaDashboard {
  title: string; uid: string; panels: GrafanaPanel[];
  templating: { list: GrafanaVariable[] };
  annotations?: { list: GrafanaAnnotation[] };
  [k: string]: unknown;
}

export interface Rule {
  alert?: string; record?: string; expr: string; for?: string;
  labels?: Record<string, string>; annotations?: Record<string, string>;
}
export interface RuleGroup { name: string; rules: Rule[] }

/** Replaces $var, ${var} and ${var:format} by GRAFANA_VARIABLES; unknown names throw. */
export function substituteGrafanaVariables(expr: string): string {
  return expr.replace(/\$(?:\{(\w+)(?::\w+)?\}|(\w+))/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare) as string;
    const value = GRAFANA_VARIABLES[name];
    if (value === undefined) throw new Error(`unknown Grafana variable $${name} in: ${expr}`);
    return value;
  });
}

export function dashboardFiles(): string[] {
  return readdirSync(join(REPO_ROOT, DASHBOARD_DIR))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => `${DASHBOARD_DIR}/${f}`);
}

export function loadDashboard(file: string): GrafanaDashboard {
  return JSON.parse(readFileSync(join(REPO_ROOT, file), 'utf8')) as GrafanaDashboard;
}

/** Every panel, rows and the panels inside collapsed rows included. */
export function allPanels(d: GrafanaDashboard): GrafanaPanel[] {
  const out: GrafanaPanel[] = [];
  const walk = (ps: GrafanaPanel[]) => {
    for (const p of ps) {
      out.push(p);
      if (p.panels) walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

/** The PromQL of a dashboard's panel targets and annotations, variables not yet substituted. */
export function rawDashboardExpressions(file: string): Expression[] {
  const d = loadDashboard(file);
  const out: Expression[] = [];
  for (const p of allPanels(d)) {
    for (const t of p.targets ?? []) {
      if (typeof t.expr === 'string' && t.expr.trim() !== '') {
        out.push({ source: `${file}: panel "${p.title ?? ''}" (id ${p.id}) target ${t.refId ?? '?'}`, expr: t.expr });
      }
    }
  }
  for (const a of d.annotations?.list ?? []) {
    const expr = a.target?.expr ?? a.expr;
    if (a.builtIn !== 1 && typeof expr === 'string' && expr.trim() !== '') {
      out.push({ source: `${file}: annotation "${a.name ?? ''}"`, expr });
    }
  }
  return out;
}

export function loadRuleGroups(file = RULES_FILE): RuleGroup[] {
  const doc = parseYaml(readFileSync(join(REPO_ROOT, file), 'utf8')) as { groups: RuleGroup[] };
  return doc.groups;
}

export function ruleExpressions(file = RULES_FILE): Expression[] {
  const out: Expression[] = [];
  for (const g of loadRuleGroups(file)) {
    for (const r of g.rules) {
      const what = r.alert !== undefined
        ? `alert ${r.alert} (severity ${r.labels?.severity ?? '?'})`
        : `record ${r.record}`;
      out.push({ source: `${file}: group ${g.name}: ${what}`, expr: r.expr.trim() });
    }
  }
  return out;
}

/**
 * Every PromQL expression of every dashboard (panel targets and annotations,
 * Grafana variables substituted) and every alerting and recording rule.
 */
export function allExpressions(): Expression[] {
  const dash = dashboardFiles().flatMap((f) => rawDashboardExpressions(f)
    .map((e) => ({ source: e.source, expr: substituteGrafanaVariables(e.expr) })));
  return [...dash, ...ruleExpressions()];
}
