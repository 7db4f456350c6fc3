// A real browser for the status page: Debian's chromium in headless mode,
// driven from its command line (--dump-dom prints the DOM after load,
// --screenshot writes a PNG); no puppeteer needed. Each call gets its own
// profile directory, runs in its own process group and is killed (the whole
// group) if it overruns, so no browser process outlives the test.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from '../helpers/tools.js';

export const CHROMIUM_HINT = 'chromium not found: install chromium with `apt-get install -y --no-install-recommends chromium`';

/** `name` only for the test of the missing case. */
export function requireChromium(name = 'chromium'): string {
  const bin = findTool(name);
  if (!bin) throw new Error(CHROMIUM_HINT);
  return bin;
}

interface Run { readonly code: number | null; readonly stdout: string; readonly stderr: string }

async function chromium(args: readonly string[], timeoutMs: number): Promise<Run> {
  const bin = requireChromium();
  const profile = await mkdtemp(join(tmpdir(), 'vigil-chromium-'));
  try {
    return await new Promise<Run>((resolve, reject) => {
      const child = spawn(bin, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions',
        `--user-data-dir=${profile}`, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => { out += d; });
      child.stderr.on('data', (d: Buffer) => { err += d; });
      const killGroup = () => { try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
      const timer = setTimeout(() => { killGroup(); reject(new Error(`chromium ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr:\n${err.slice(-2000)}`)); }, timeoutMs);
      child.once('error', (e) => { clearTimeout(timer); reject(e); });
      child.once('exit', (code) => {
        clearTimeout(timer);
        killGroup(); // helpers (zygote, utility processes) go with it
        resolve({ code, stdout: out, stderr: err });
      });
    });
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** The DOM as Chromium built it from the page (after parsing; no script runs on a vigil page). */
export async function dumpDom(url: string, timeoutMs = 60_000): Promise<string> {
  const r = await chromium(['--dump-dom', url], timeoutMs);
  if (r.code !== 0 || !r.stdout.includes('<html')) throw new Error(`chromium --dump-dom ${url} exited ${r.code}; stderr:\n${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/** Writes a PNG of the page as a 1280-wide window shows it. */
export async function screenshot(url: string, file: string, size = '1280,2000', timeoutMs = 60_000): Promise<void> {
  const r = await chromium([`--screenshot=${file}`, `--window-size=${size}`, '--hide-scrollbars', url], timeoutMs);
  if (r.code !== 0) throw new Error(`chromium --screenshot ${url} exited ${r.code}; stderr:\n${r.stderr.slice(-2000)}`);
}
