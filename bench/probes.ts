// Benchmark: N HTTP probes at a 1 s interval (--interval) against a local HTTP server.
// The agent runs as its own process (`vigil run`), the target server in
// another, and this process only scrapes and reads figures, so
// the figures are the agent's alone. Prints figures; it is not a test.
//
//   node --import tsx bench/probes.ts                 # 1000 probes, 60 s
//   node --import tsx bench/probes.ts --seconds 15    # quick run
//   BENCH_PROBES=200 BENCH_SECONDS=10 node --import tsx bench/probes.ts
//   node --import tsx bench/probes.ts --cpu-prof      # also writes a .cpuprofile of the agent
//   node --import tsx bench/probes.ts --https --probes 200   # TLS targets (a handshake per run), certificate verified
//   npm run build && node --import tsx bench/probes.ts --dist dist   # the compiled agent, as `vigil` runs
//   ... --node-arg=--max-old-space-size=96            # a node flag for the agent (repeatable)
//   ... --probes 5000 --interval 5s                   # a longer interval where 2 cores cannot run every probe each second
//
// Figures: CPU ms per probe run (the agent's process_cpu_seconds_total delta
// over the run-count delta, i.e. process.cpuUsage()), peak RSS (VmHWM),
// scheduling lateness p50/p99 (vigil_scheduler_lateness_seconds), and /metrics
// scrape latency p50/p99 with every probe present, measured while probing.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, get, makeCert, procStatus, sleep, startAgent, startTarget, sum } from './lib/processes.js';

const { values: args } = parseArgs({
  options: {
    probes: { type: 'string' }, seconds: { type: 'string' }, scrapes: { type: 'string' }, warmup: { type: 'string' },
    'cpu-prof': { type: 'boolean' }, keepalive: { type: 'boolean' }, https: { type: 'boolean' }, dist: { type: 'string' },
    'node-arg': { type: 'string', multiple: true }, interval: { type: 'string' },
  },
});
const PROBES = Number(args.probes ?? process.env.BENCH_PROBES ?? 1000);
const SECONDS = Number(args.seconds ?? process.env.BENCH_SECONDS ?? 60);
const SCRAPES = Number(args.scrapes ?? process.env.BENCH_SCRAPES ?? 100);
const WARMUP = Number(args.warmup ?? process.env.BENCH_WARMUP ?? 10);
// A longer interval where the machine cannot run every probe each second (--probes 5000 --interval 5s).
const INTERVAL = args.interval ?? '1s';
const INTERVAL_S = Number.parseFloat(INTERVAL) * (INTERVAL.endsWith('ms') ? 0.001 : INTERVAL.endsWith('m') ? 60 : 1);
const TARGETS = { cpuMsPerProbe: 0.3, rssMiB: 150, latenessP99Ms: 50, scrapeP99Ms: 50 };

/** Quantile from Prometheus histogram buckets, interpolated as histogram_quantile does. */
function histogramQuantile(body: string, name: string, q: number, since?: Map<number, number>): number {
  const buckets: Array<[number, number]> = [];
  for (const line of body.split('\n')) {
    const m = line.match(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`));
    if (m) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]) - (since?.get(m[1] === '+Inf' ? Infinity : Number(m[1])) ?? 0)]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)![1];
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + (le - prevLe) * ((rank - prevCount) / Math.max(1, count - prevCount));
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}
function bucketsOf(body: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of body.split('\n')) {
    const m = line.match(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`));
    if (m) out.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  }
  return out;
}
function share(body: string, name: string, le: number, since: Map<number, number>): number {
  const now = bucketsOf(body, name);
  const total = (now.get(Infinity) ?? 0) - (since.get(Infinity) ?? 0);
  return total === 0 ? 1 : ((now.get(le) ?? 0) - (since.get(le) ?? 0)) / total;
}
/** Least-squares slope of samples taken once a second, in MiB per minute. */
function rssSlope(samples: number[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = samples.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  samples.forEach((y, x) => { num += (x - mx) * (y - my); den += (x - mx) ** 2; });
  return (num / den) * 60 / 2 ** 20;
}
function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  // With --https the target serves TLS with a throwaway certificate (made by
  // openssl for 127.0.0.1) that the probes verify through ca_file.
  if (args.https) makeCert(dir);
  const target = await startTarget(args.https ? dir : undefined);
  const port = await freePort();
  const file = join(dir, 'vigil.yaml');
  let yaml = `agent:\n  listen: 127.0.0.1:${port}\n  log_level: warn\n  shutdown_timeout: 2s\nprobes:\n`;
  for (let i = 0; i < PROBES; i++) {
    const scheme = args.https ? 'https' : 'http';
    const tls = args.https ? `, tls: {ca_file: "${join(dir, 'cert.pem')}"}` : '';
    yaml += `  - {name: p${i}, type: http, url: "${scheme}://127.0.0.1:${target.port}/p${i}", interval: ${INTERVAL}${args.keepalive ? ', keepalive: true' : ''}${tls}}\n`;
  }
  writeFileSync(file, yaml);

  // By default the agent runs from source through tsx; --dist DIR runs the
  // compiled DIR/bin.js, as the installed `vigil` does (no tsx loader thread).
  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  nodeArgs.push(...(args['node-arg'] ?? []));
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  try {
    agent = await startAgent({ config: file, port, dist: args.dist, nodeArgs });
    const base = agent.base;
    // Warm-up: every probe has had its staggered first run and a few more, and the JIT has settled.
    await sleep(WARMUP * 1000);
    const m0 = (await get(`${base}/metrics`)).text;
    const t0 = performance.now();
    const cpu0 = sum(m0, 'process_cpu_seconds_total');
    const runs0 = sum(m0, 'vigil_probe_runs_total');
    const fail0 = sum(m0, 'vigil_probe_runs_total', 'result="failure"');
    const late0 = bucketsOf(m0, 'vigil_scheduler_lateness_seconds');
    const rssSamples: number[] = [];
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end) {
      await sleep(Math.min(1000, end - Date.now()));
      rssSamples.push(procStatus(agent.pid, 'VmRSS'));
    }
    const m1 = (await get(`${base}/metrics`)).text;
    const elapsed = (performance.now() - t0) / 1000;
    const cpuMs = (sum(m1, 'process_cpu_seconds_total') - cpu0) * 1000;
    const runs = sum(m1, 'vigil_probe_runs_total') - runs0;
    const failures = sum(m1, 'vigil_probe_runs_total', 'result="failure"') - fail0;
    const lateP50 = histogramQuantile(m1, 'vigil_scheduler_lateness_seconds', 0.5, late0) * 1000;
    const lateP99 = histogramQuantile(m1, 'vigil_scheduler_lateness_seconds', 0.99, late0) * 1000;
    const within50 = share(m1, 'vigil_scheduler_lateness_seconds', 0.05, late0);

    // Scrapes while probing, one at a time, 100 ms apart.
    const scrapeMs: number[] = [];
    let seriesCount = 0;
    for (let i = 0; i < SCRAPES; i++) {
      const r = await get(`${base}/metrics`);
      scrapeMs.push(r.ms);
      seriesCount = r.text.split('\n').filter((l) => l && !l.startsWith('#')).length;
      await sleep(100);
    }
    scrapeMs.sort((a, b) => a - b);
    const peakRss = procStatus(agent.pid, 'VmHWM');

    const cpuPerProbe = cpuMs / runs;
    const rows: Array<[string, string, string]> = [
      ['probe runs', `${runs} in ${elapsed.toFixed(1)} s (${(runs / elapsed).toFixed(0)}/s, expected ${(PROBES / INTERVAL_S).toFixed(0)}/s), ${failures} failed`, ''],
      ['agent CPU', `${cpuMs.toFixed(0)} ms = ${(cpuMs / elapsed / 10).toFixed(1)}% of one core`, ''],
      ['CPU per probe run', `${cpuPerProbe.toFixed(3)} ms`, `target <= ${TARGETS.cpuMsPerProbe} ms ${cpuPerProbe <= TARGETS.cpuMsPerProbe ? 'OK' : 'MISSED'}`],
      ['peak RSS (VmHWM)', `${(peakRss / 2 ** 20).toFixed(1)} MiB (steady ${(Math.max(...rssSamples) / 2 ** 20).toFixed(1)} MiB)`, `target <= ${TARGETS.rssMiB} MiB ${peakRss / 2 ** 20 <= TARGETS.rssMiB ? 'OK' : 'MISSED'}`],
      ['RSS slope', `${rssSlope(rssSamples).toFixed(2)} MiB/min over ${SECONDS} s (least squares over 1-s samples)`, ''],
      ['lateness p50 / p99', `${lateP50.toFixed(1)} ms / ${lateP99.toFixed(1)} ms (${(within50 * 100).toFixed(2)}% within 50 ms)`, `target p99 <= ${TARGETS.latenessP99Ms} ms ${within50 >= 0.99 ? 'OK' : 'MISSED'}`],
      ['/metrics scrape p50 / p99', `${pct(scrapeMs, 0.5).toFixed(1)} ms / ${pct(scrapeMs, 0.99).toFixed(1)} ms (${SCRAPES} scrapes, ${seriesCount} series)`, `target p99 <= ${TARGETS.scrapeP99Ms} ms ${pct(scrapeMs, 0.99) <= TARGETS.scrapeP99Ms ? 'OK' : 'MISSED'}`],
    ];
    process.stdout.write(`\nvigil bench: ${PROBES} ${args.https ? 'https' : 'http'} probes at ${INTERVAL}, ${SECONDS}s measured, agent ${args.dist ? `${args.dist}/bin.js` : 'src via tsx'}${args['node-arg'] ? ` ${args['node-arg'].join(' ')}` : ''}, node ${process.version}, ${await target.served()} requests served\n`);
    for (const [k, v, t] of rows) process.stdout.write(`  ${k.padEnd(26)} ${v}${t ? `   [${t}]` : ''}\n`);
  } finally {
    await agent?.stop();
    target.stop();
    if (args['cpu-prof']) {
      const prof = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
      for (const f of prof) {
        const dest = join(process.cwd(), f);
        writeFileSync(dest, readFileSync(join(dir, f)));
        process.stdout.write(`  cpu profile of the agent: ${dest}\n`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1); });
