// Starts a real Agent on a temp config file (in this process, server on port 0)
// or the real CLI as a subprocess, and captures its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Agent } from '../../src/agent.js';
import { loadConfigFile } from '../../src/config/load.js';
import { waitUntil } from './wait.js';

export const REPO = resolve(import.meta.dirname, '../..');

export interface LogLine { level: number; msg: string; [k: string]: unknown }

export interface RunningAgent {
  readonly agent: Agent;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly file: string;
  readonly dir: string;
  readonly logs: LogLine[];
  writeConfig(yaml: string): void;
  get(path: string): Promise<{ status: number; body: string; headers: Headers; json: () => any }>;
  post(path: string): Promise<{ status: number; body: string; headers: Headers; json: () => any }>;
  stop(): Promise<void>;
}

export function tempDir(prefix = 'vigil-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function logCollector(): { logger: pino.Logger; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), logs };
}

export async function fetchText(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  const body = await res.text();
  return { status: res.status, body, headers: res.headers, json: () => JSON.parse(body) };
}

export async function startAgent(yaml: string, env: NodeJS.ProcessEnv = process.env): Promise<RunningAgent> {
  const { dir, cleanup } = tempDir();
  const file = join(dir, 'vigil.yaml');
  writeFileSync(file, yaml);
  const loaded = await loadConfigFile(file, Agent.loadOptions(env));
  if (!loaded.ok) {
    cleanup();
    throw new Error(`test config invalid: ${JSON.stringify(loaded.problems)}`);
  }
  const { logger, logs } = logCollector();
  const agent = new Agent({ configFile: file, config: loaded.config, env, logger, version: 'test', listenOverride: { host: '127.0.0.1', port: 0 } });
  const url = await agent.start();
  let stopped = false;
  return {
    agent, url, file, dir, logs,
    writeConfig: (text) => writeFileSync(file, text),
    get: (path) => fetchText(url + path),
    post: (path) => fetchText(url + path, { method: 'POST' }),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try { await agent.stop(); } finally { cleanup(); }
    },
  };
}

export interface VigilProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  waitForLog(what: string, pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  kill(signal?: NodeJS.Signals): void;
}

/** `node --import tsx src/bin.ts ARGS` as a real subprocess. */
export function spawnVigil(args: string[], env: NodeJS.ProcessEnv = process.env): VigilProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/bin.ts'), ...args], {
    cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const logs: LogLine[] = [];
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) { try { logs.push(JSON.parse(l) as LogLine); } catch { /* not a log line */ } }
  });
  child.stderr!.on('data', (d: Buffer) => { err += d; });
  const exited = new Promise<number | string>((res) => child.on('exit', (code, sig) => res(code ?? sig ?? -1)));
  return {
    child, logs, exited,
    stderr: () => err,
    stdout: () => out,
    waitForLog: (what, pred, timeoutMs = 20_000) => waitUntil(what, () => logs.find(pred), { timeoutMs }),
    kill: (signal = 'SIGTERM') => { if (child.exitCode === null && child.signalCode === null) child.kill(signal); },
  };
}

/** Runs the CLI to completion. */
export async function runVigil(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const p = spawnVigil(args, env);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
