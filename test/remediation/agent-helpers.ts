// Runs a real Agent in-process from vigil.yaml text, capturing its log lines,
// and a tiny HTTP service whose health a test switches (or flaps).
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Agent } from '../../src/agent.js';
import { loadConfigFile } from '../../src/config/load.js';

export interface LogLine { time: string; level: number; msg: string; [k: string]: unknown }

export interface RunningAgent {
  agent: Agent;
  url: string;
  logs: LogLine[];
  metrics(): Promise<string>;
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  status(): Promise<{ remediation: Record<string, any> } & Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  stop(): Promise<void>;
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function startAgent(configFile: string, yaml: string, env: NodeJS.ProcessEnv = process.env): Promise<RunningAgent> {
  await writeFile(configFile, yaml);
  const loaded = await loadConfigFile(configFile, Agent.loadOptions(env));
  if (!loaded.ok) throw new Error(`config refused: ${JSON.stringify(loaded.problems)}`);
  const logs: LogLine[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) logs.push(JSON.parse(l)); cb(); } });
  const logger = pino({ level: 'debug', timestamp: pino.stdTimeFunctions.isoTime }, sink);
  const agent = new Agent({ configFile, config: loaded.config, env, logger, version: 'test', listenOverride: { host: '127.0.0.1', port: 0 } });
  const url = await agent.start();
  const metrics = async () => (await fetch(`${url}/metrics`)).text();
  return {
    agent, url, logs, metrics,
    async metric(name, labels = {}) {
      const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      for (const line of (await metrics()).split('\n')) {
        const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
        if (m && m[1] === name && want.every((w) => (m[2] ?? '').includes(w))) return Number(m[3]);
      }
      return undefined;
    },
    async status() { return (await fetch(`${url}/status`)).json() as never; },
    stop: () => agent.stop(),
  };
}

export async function journalLines(stateDir: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(stateDir, 'remediation-journal.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export async function lines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

/** An HTTP service answering 200 or 500; `mode` can be switched, or 'flap' alternates per request. */
export async function startService(): Promise<{ port: number; mode: 'up' | 'down' | 'flap'; requests: number; close(): Promise<void> }> {
  const svc = { port: 0, mode: 'up' as 'up' | 'down' | 'flap', requests: 0, close: async () => {} };
  const server: Server = createServer((_req, res) => {
    svc.requests += 1;
    const up = svc.mode === 'up' || (svc.mode === 'flap' && svc.requests % 2 === 0);
    res.writeHead(up ? 200 : 500).end(up ? 'ok' : 'broken');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  svc.port = (server.address() as AddressInfo).port;
  svc.close = async () => { server.closeAllConnections(); server.close(); await once(server, 'close'); };
  return svc;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` gives something other than undefined, null or false. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * The `probes:` block most remediation tests share: one fast http probe named
 * `api` (every 100 ms, critical after 2 failures) against a local service.
 */
export function apiProbeYaml(port: number): string {
  return `probes:
  - name: api
    type: http
    url: http://127.0.0.1:${port}/
    interval: 100ms
    timeout: 80ms
    failures_before_critical: 2
`;
}
