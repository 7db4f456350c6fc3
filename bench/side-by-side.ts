// Benchmark: vigil and blackbox_exporter side by side in one run, against
// the same local targets, for plain HTTP and for HTTPS (a certificate both
// tools verify through the same CA file, a full handshake per probe). The
// machine is shared and noisy, so the tools alternate in short rounds
// (vigil, blackbox, blackbox, vigil, ...), each round a fresh process, and the
// ratio is taken within a round. Prints figures; it is not a test.
//
//   npm run build && node --import tsx bench/side-by-side.ts            # 3 rounds each, 5 s measured per tool per round
//   node --import tsx bench/side-by-side.ts --rounds 5 --seconds 10 --protocols https
//   node --import tsx bench/side-by-side.ts --rate 200                  # probes per second for both protocols
//   ... --baseline /tmp/old/dist                                         # also another vigil build, in the same rounds
//   ... --baseline dist --baseline-node-arg=--max-semi-space-size=1      # or the same build with other node flags
//   ... --node /path/to/node24/bin/node                                  # the agent on another Node (the .deb runs Node 24)
//
// Defaults: 1000 HTTP probes and 400 HTTPS probes a second. vigil runs
// `dist/bin.js run` (--dist DIR) with that many probes at a 1 s interval, on
// its own schedule. blackbox_exporter (Debian's prometheus-blackbox-exporter,
// --blackbox PATH) is driven from this process with the same number of
// /probe?module=..&target=.. requests a second, staggered as vigil's runs
// are, over kept-alive connections as Prometheus would; its figure therefore
// includes serving /probe. Both probe with a fresh connection per probe.
//
// Figures per tool and round, after a warm-up: CPU ms per completed probe
// (user + system time from /proc/PID/stat over the probes completed in the
// window: vigil_probe_runs_total for vigil, /probe requests answered from
// the window's start until every request sent in it was answered, for
// blackbox_exporter), peak RSS (VmHWM of the round's process), failures;
// then the medians and the median of the per-round ratios vigil/blackbox.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, get, makeCert, procCpuMs, procStatus, sleep, startAgent, startTarget, sum, type Target } from './lib/processes.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string' }, seconds: { type: 'string' }, warmup: { type: 'string' }, rounds: { type: 'string' },
    protocols: { type: 'string' }, dist: { type: 'string' }, baseline: { type: 'string' }, node: { type: 'string' }, blackbox: { type: 'string' }, 'node-arg': { type: 'string', multiple: true },
    'baseline-node-arg': { type: 'string', multiple: true },
  },
});
type Protocol = 'http' | 'https';
const RATE: Record<Protocol, number> = { http: Number(args.rate ?? 1000), https: Number(args.rate ?? 400) };
const SECONDS = Number(args.seconds ?? 5);
const WARMUP = Number(args.warmup ?? 3);
const ROUNDS = Number(args.rounds ?? 3);
const PROTOCOLS = (args.protocols ?? 'http,https').split(',') as Protocol[];
const DIST = args.dist ?? 'dist';
const BLACKBOX = args.blackbox ?? '/usr/bin/prometheus-blackbox-exporter';

interface Figures {
  readonly probes: number;
  readonly failed: number;
  readonly cpuMs: number;
  readonly peakRss: number;
}

interface Setup {
  readonly dir: string;
  readonly ca: string;
  readonly targets: Record<Protocol, Target>;
}

const url = (s: Setup, p: Protocol) => `${p}://127.0.0.1:${s.targets[p].port}/`;

async function vigilRound(s: Setup, p: Protocol, dist: string, nodeArgs: readonly string[]): Promise<Figures> {
  const port = await freePort();
  const file = join(s.dir, 'vigil.yaml');
  let yaml = `agent:\n  listen: 127.0.0.1:${port}\n  log_level: warn\n  shutdown_timeout: 2s\nprobes:\n`;
  const tls = p === 'https' ? `, tls: {ca_file: "${s.ca}"}` : '';
  for (let i = 0; i < RATE[p]; i++) yaml += `  - {name: p${i}, type: http, url: "${url(s, p)}", interval: 1s${tls}}\n`;
  writeFileSync(file, yaml);
  const agent = await startAgent({ config: file, port, dist, node: args.node, nodeArgs });
  try {
    await sleep(WARMUP * 1000);
    const m0 = (await get(`${agent.base}/metrics`)).text;
    const cpu0 = procCpuMs(agent.pid);
    await sleep(SECONDS * 1000);
    const cpu1 = procCpuMs(agent.pid);
    const m1 = (await get(`${agent.base}/metrics`)).text;
    return {
      probes: sum(m1, 'vigil_probe_runs_total') - sum(m0, 'vigil_probe_runs_total'),
      failed: sum(m1, 'vigil_probe_runs_total', 'result="failure"') - sum(m0, 'vigil_probe_runs_total', 'result="failure"'),
      cpuMs: cpu1 - cpu0,
      peakRss: procStatus(agent.pid, 'VmHWM'),
    };
  } finally {
    await agent.stop();
  }
}

function blackboxConfig(ca: string): string {
  const common = '    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n      ip_protocol_fallback: false\n';
  return `modules:\n  http:\n${common}  https:\n${common}      fail_if_not_ssl: true\n      tls_config:\n        ca_file: ${ca}\n`;
}

/**
 * Sends RATE[p] /probe requests a second to blackbox_exporter, started on
 * every 1 ms tick as many as are due (at most a second's worth in flight),
 * and counts the answers from `counting()` on.
 */
function drive(port: number, module: Protocol, target: string, rate: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const path = `/probe?module=${module}&target=${encodeURIComponent(target)}`;
  let counting = false;
  let issuing = true;
  let done = 0;
  let failed = 0;
  let inFlight = 0;
  let started = 0;
  const t0 = performance.now();
  const one = () => {
    inFlight++;
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        inFlight--;
        if (!counting) return;
        done++;
        if (!/^probe_success 1$/m.test(body)) failed++;
      });
    });
    req.on('error', () => {
      inFlight--;
      if (counting) { done++; failed++; }
    });
  };
  const tick = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate) - started;
    for (let i = 0; i < due; i++) {
      started++;
      if (issuing && inFlight < rate) one();
    }
  }, 1);
  return {
    count: () => { counting = true; },
    /** Stops sending and resolves once every request sent has been answered (or after 10 s). */
    drain: async () => {
      issuing = false;
      for (const end = Date.now() + 10_000; inFlight > 0 && Date.now() < end;) await sleep(5);
    },
    figures: () => ({ done, failed }),
    stop: () => { clearInterval(tick); agent.destroy(); },
  };
}

async function blackboxRound(s: Setup, p: Protocol): Promise<Figures> {
  const port = await freePort();
  const config = join(s.dir, 'blackbox.yml');
  writeFileSync(config, blackboxConfig(s.ca));
  const child = spawn(BLACKBOX, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  let driver: ReturnType<typeof drive> | undefined;
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await get(`http://127.0.0.1:${port}/-/healthy`);
        break;
      } catch { /* not up yet */ }
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('blackbox_exporter did not start');
      await sleep(50);
    }
    driver = drive(port, p, url(s, p), RATE[p]);
    await sleep(WARMUP * 1000);
    driver.count();
    const cpu0 = procCpuMs(child.pid!);
    await sleep(SECONDS * 1000);
    // Where blackbox_exporter falls behind, requests queue up: the CPU they took
    // is counted with them, once they are answered.
    await driver.drain();
    const cpu1 = procCpuMs(child.pid!);
    const { done, failed } = driver.figures();
    return { probes: done, failed, cpuMs: cpu1 - cpu0, peakRss: procStatus(child.pid!, 'VmHWM') };
  } finally {
    driver?.stop();
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    child.kill('SIGKILL');
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const perProbe = (f: Figures) => f.cpuMs / Math.max(1, f.probes);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const line = (f: Figures) =>
  `${perProbe(f).toFixed(3)} ms/probe (${f.cpuMs.toFixed(0)} ms / ${f.probes}${f.failed ? `, ${f.failed} FAILED` : ''}), peak ${mib(f.peakRss)}`;

async function main() {
  try {
    accessSync(BLACKBOX, constants.X_OK);
  } catch {
    throw new Error(`${BLACKBOX} not found: install prometheus-blackbox-exporter (apt-get install -y prometheus-blackbox-exporter)`);
  }
  try {
    accessSync(join(DIST, 'bin.js'));
  } catch {
    throw new Error(`${DIST}/bin.js not found: npm run build first`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-side-'));
  const { cert } = makeCert(dir);
  const targets = { http: await startTarget(), https: await startTarget(dir) };
  const s: Setup = { dir, ca: cert, targets };
  const out = (text: string) => process.stdout.write(`${text}\n`);
  out(`side by side: vigil (${DIST}/bin.js${args.baseline ? `, baseline ${args.baseline}/bin.js` : ''}, node ${args.node ? execFileSync(args.node, ['--version'], { encoding: 'utf8' }).trim() : process.version}${args['node-arg'] ? ` ${args['node-arg'].join(' ')}` : ''}) and blackbox_exporter (${BLACKBOX}); ` +
    `${ROUNDS} rounds, ${WARMUP} s warm-up + ${SECONDS} s measured per tool per round; fresh connection per probe`);
  try {
    for (const p of PROTOCOLS) {
      out(`\n${p}: ${RATE[p]} probes/s against ${url(s, p)}${p === 'https' ? ' (certificate verified via ca_file, expiry exported)' : ''}`);
      const tools = ['vigil', 'blackbox', ...(args.baseline ? ['baseline'] : [])] as const;
      const figs = new Map<string, Figures[]>(tools.map((t) => [t, []]));
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate the order, so a drift in the machine's load does not favour one tool.
        const order = r % 2 === 0 ? tools : [...tools].reverse();
        for (const tool of order) {
          const f = tool === 'blackbox' ? await blackboxRound(s, p) : await (tool === 'vigil' ? vigilRound(s, p, DIST, args['node-arg'] ?? []) : vigilRound(s, p, args.baseline!, args['baseline-node-arg'] ?? []));
          figs.get(tool)!.push(f);
          out(`  round ${r + 1}  ${tool.padEnd(8)} ${line(f)}   load ${loadavg()}`);
        }
        const [v, b] = [figs.get('vigil')![r], figs.get('blackbox')![r]];
        out(`  round ${r + 1}  ratio vigil/blackbox CPU ${(perProbe(v) / perProbe(b)).toFixed(2)}, RSS ${(v.peakRss / b.peakRss).toFixed(1)}`);
      }
      const b = figs.get('blackbox')!;
      for (const tool of tools) {
        const f = figs.get(tool)!;
        const ratios = f.map((x, i) => perProbe(x) / perProbe(b[i]));
        out(`  ${p} median  ${tool.padEnd(8)} ${median(f.map(perProbe)).toFixed(3)} ms/probe, peak ${mib(median(f.map((x) => x.peakRss)))}` +
          (tool === 'blackbox' ? '' : `; ${tool}/blackbox CPU median ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`));
      }
    }
  } finally {
    targets.http.stop();
    targets.https.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => { console.error(err instanceof Error ? err.message : err); process.exit(1); });
