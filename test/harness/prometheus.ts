// Real Prometheus + Alertmanager + a webhook receiver for tests: proves the
// agent's metrics and alert rules work end to end, not just parse.
// Configs are written as JSON, which is valid YAML for both programs.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { requireBinary } from './require-binary.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Servers not stopped when the test process exits (crash, process.exit).
const live = new Map<ChildProcess, string>();
process.once('exit', () => {
  for (const [c, dir] of live) { c.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); }
});

interface Proc { pid: number; url: string; port: number; stop(): Promise<void> }

/** Start `bin`, wait until GET url/-/ready is 200; logs go to dir/name.log. */
async function startServer(name: string, bin: string, args: string[], dir: string, port: number): Promise<Proc> {
  const logFile = join(dir, `${name}.log`);
  const log = await open(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', log.fd, log.fd] });
  await log.close();
  live.set(child, dir);
  child.unref(); // a test that forgets stop() can still end; the exit hook then kills it
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.once('error', () => undefined); // reported by the readiness timeout below
  const running = () => child.exitCode === null && child.signalCode === null;
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    child.ref(); // keep the loop alive until the exit event arrives
    if (running()) child.kill('SIGTERM'); // both exit in well under a second
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
    if (running()) child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
    live.delete(child);
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ok) break;
    if (!running() || Date.now() > deadline) {
      const text = await readFile(logFile, 'utf8').catch(() => '');
      await stop();
      throw new Error(`${name} not ready (running=${running()}); log tail:\n${text.slice(-2000)}`);
    }
    await sleep(50);
  }
  return { pid: child.pid ?? -1, url, port, stop };
}

export interface ScrapeTarget {
  job: string; targets: string[]; metricsPath?: string;
  /** https, with Prometheus's own tls_config (ca_file, cert_file, key_file, server_name…). */
  scheme?: 'http' | 'https'; tlsConfig?: Record<string, string | boolean>;
  basicAuth?: { username: string; password: string };
}
export interface PromQueryData { resultType: string; result: Array<{ metric: Record<string, string>; value?: [number, string] }> }
export interface PrometheusServer extends Proc {
  /** Resolves once `up{job=...} == 1`; the first scrape comes ~5 s after start. */
  waitForUp(job: string, timeoutMs?: number): Promise<void>;
  /** Instant query; throws with Prometheus's error text if status != success. */
  query(promql: string): Promise<PromQueryData>;
}

export async function startPrometheus(opts: {
  scrape: ScrapeTarget[];
  /** Paths of rule files, used as they are. */
  ruleFiles?: string[];
  /** Rule file content (YAML), written to the temp dir and loaded too. */
  rules?: string;
  /** host:port of an Alertmanager (e.g. new URL(am.url).host). */
  alertmanager?: string;
}): Promise<PrometheusServer> {
  const bin = requireBinary('prometheus', 'prometheus');
  const dir = await mkdtemp(join(tmpdir(), 'vigil-prom-'));
  const ruleFiles = [...(opts.ruleFiles ?? [])];
  if (opts.rules !== undefined) {
    ruleFiles.push(join(dir, 'rules.yml'));
    await writeFile(join(dir, 'rules.yml'), opts.rules);
  }
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '1s' },
    rule_files: ruleFiles,
    scrape_configs: opts.scrape.map((s) => ({
      job_name: s.job, metrics_path: s.metricsPath ?? '/metrics', static_configs: [{ targets: s.targets }],
      ...(s.scheme ? { scheme: s.scheme } : {}), ...(s.tlsConfig ? { tls_config: s.tlsConfig } : {}),
      ...(s.basicAuth ? { basic_auth: s.basicAuth } : {}),
    })),
    ...(opts.alertmanager ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [opts.alertmanager] }] }] } } : {}),
  };
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const proc = await startServer('prometheus', bin, [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ], dir, port);

  const query = async (promql: string): Promise<PromQueryData> => {
    const res = await fetch(`${proc.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: PromQueryData; errorType?: string; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus query ${promql}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  return {
    ...proc, query,
    async waitForUp(job, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while ((await query(`up{job=${JSON.stringify(job)}} == 1`)).result.length === 0) {
        if (Date.now() > deadline) throw new Error(`job ${job} not up after ${timeoutMs} ms`);
        await sleep(200);
      }
    },
  };
}

export async function startAlertmanager(opts: { webhookUrl: string }): Promise<Proc> {
  const bin = requireBinary('prometheus-alertmanager', 'prometheus-alertmanager');
  const dir = await mkdtemp(join(tmpdir(), 'vigil-am-'));
  const config = {
    route: {
      receiver: 'webhook',
      group_by: ['...'], // every distinct alert is its own group: one notification each
      group_wait: '0s', group_interval: '1s', repeat_interval: '1h',
    },
    receivers: [{ name: 'webhook', webhook_configs: [{ url: opts.webhookUrl, send_resolved: true }] }],
  };
  await writeFile(join(dir, 'alertmanager.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  return startServer('alertmanager', bin, [
    `--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=', // no gossip port: a single instance needs none
  ], dir, port);
}

/** The JSON body Alertmanager's webhook receiver sends (version "4"). */
export interface AmNotification {
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string }>;
  [k: string]: unknown;
}
export interface WebhookReceiver {
  url: string;
  /** Every notification received so far, each with its arrival time. */
  received: Array<{ at: number; body: AmNotification }>;
  waitFor(pred: (n: AmNotification) => boolean, timeoutMs?: number): Promise<AmNotification>;
  stop(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: WebhookReceiver['received'] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        received.push({ at: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as AmNotification });
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end();
      }
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    received,
    waitFor(pred, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = received.find((n) => pred(n.body));
          if (!hit) return;
          cleanup();
          resolve(hit.body);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching webhook within ${timeoutMs} ms; got ${JSON.stringify(received.map((n) => n.body.status))}`));
        }, timeoutMs);
        const cleanup = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
