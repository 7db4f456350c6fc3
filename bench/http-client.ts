// Micro benchmark: CPU per fresh-connection HTTP GET, node:http (agent: false)
// against http-wire, and the whole http probe run (http-wire inside). Prints
// figures; it is not a test.
//
//   node --import tsx bench/http-client.ts                          # 1000 GET/s, 10 s per run, 3 runs per mode
//   node --import tsx bench/http-client.ts --rate 500 --seconds 5 --runs 5
//   node --import tsx bench/http-client.ts --modes node,wire        # modes: node, wire, probe, idle
//
// The target (a node:http server answering "ok") runs in a child process, so
// process.cpuUsage() here is the client's alone. Requests are started
// staggered, like 1000 probes on a 1 s interval: on every 1 ms tick as many
// as are due. Runs alternate between the modes (the VM is noisy, so a mode is
// never measured in one stretch), each after a 2 s warm-up of its own;
// `idle` runs the same ticker without requests, the floor under the others.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import pino from 'pino';
import { exchange, prepareRequest, WireTls, type ExchangeOptions } from '../src/probes/http-wire.js';
import { httpProbe } from '../src/probes/http.js';
import { SingleFlight } from '../src/probes/single-flight.js';

const { values: args } = parseArgs({
  options: { rate: { type: 'string' }, seconds: { type: 'string' }, runs: { type: 'string' }, modes: { type: 'string' }, warmup: { type: 'string' } },
});
const RATE = Number(args.rate ?? 1000);
const SECONDS = Number(args.seconds ?? 10);
const RUNS = Number(args.runs ?? 3);
const WARMUP_S = Number(args.warmup ?? 2);
const MODES = (args.modes ?? 'node,wire,probe,idle').split(',') as Mode[];
type Mode = 'node' | 'wire' | 'probe' | 'idle';

const TARGET_SCRIPT = `
const http = require('node:http');
const s = http.createServer((_q, r) => r.end('ok'));
s.listen(0, '127.0.0.1', 4096, () => process.send({ port: s.address().port }));
process.on('disconnect', () => process.exit(0));
`;

async function startTarget(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, ['-e', TARGET_SCRIPT], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve((m as { port: number }).port)));
  return { port, stop: () => child.kill() };
}

type Client = (signal: AbortSignal) => Promise<unknown>;

function nodeClient(url: URL): Client {
  // What the http probe did before http-wire: request with agent: false, the body drained.
  return (signal) => new Promise<void>((resolve, reject) => {
    const req = http.request(url, { method: 'GET', headers: {}, signal, agent: false }, (res) => {
      res.on('data', () => undefined);
      res.on('end', resolve);
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function wireClient(url: URL): Client {
  const prepared = prepareRequest(url, 'GET', {}, undefined);
  const opts: ExchangeOptions = { tls: new WireTls({}), limit: 1024 * 1024, keepBody: false, stopAtRedirect: false };
  return (signal) => exchange(prepared, opts, signal);
}

function probeClient(url: URL): Client {
  const fields = z.object(httpProbe.fields({ env: {} })).parse({ url: url.toString() });
  const probe = httpProbe.create({
    ...fields, name: 'bench', type: 'http', schedule: { kind: 'interval', everyMs: 1000 }, timeoutMs: 900,
    failures_before_warning: 1, failures_before_critical: 3, successes_before_passing: 1,
  }, { logger: pino({ level: 'silent' }), singleFlight: new SingleFlight() });
  return async (signal) => {
    const r = await probe.run(signal);
    if (!r.ok) throw new Error(r.message);
  };
}

interface RunFigures { cpuMsPerRequest: number; userMs: number; systemMs: number; done: number; errors: number; rate: number }

/** Starts `rate` requests a second for `seconds`, staggered on a 1 ms ticker; CPU over the whole window incl. the tail. */
async function drive(client: Client | undefined, rate: number, seconds: number): Promise<RunFigures> {
  // One signal per "probe", as the scheduler keeps one per probe while it never fires.
  const signals = Array.from({ length: Math.max(1, rate) }, () => new AbortController().signal);
  const total = Math.round(rate * seconds);
  let started = 0;
  let done = 0;
  let errors = 0;
  let firstError: unknown;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const finish = () => { if (started === total && done === started) resolve(); };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      while (started < due) {
        started++;
        if (!client) { done++; continue; }
        client(signals[started % signals.length]).then(() => { done++; finish(); }, (err: unknown) => { errors++; firstError ??= err; done++; finish(); });
      }
      if (started < total) setTimeout(tick, 1);
      else finish();
    };
    tick();
  });
  const cpu = process.cpuUsage(cpu0);
  const elapsed = (performance.now() - t0) / 1000;
  if (firstError) console.error(`  first error: ${(firstError as Error).message}`);
  return { cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / total, userMs: cpu.user / 1000 / total, systemMs: cpu.system / 1000 / total, done, errors, rate: done / elapsed };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

async function main(): Promise<void> {
  const target = await startTarget();
  const url = new URL(`http://127.0.0.1:${target.port}/health`);
  const clients: Record<Mode, Client | undefined> = { node: nodeClient(url), wire: wireClient(url), probe: probeClient(url), idle: undefined };
  console.log(`node ${process.version}, ${RATE} fresh-connection GET/s for ${SECONDS} s, ${RUNS} runs per mode, alternating: ${MODES.join(', ')}`);
  const results: Record<string, number[]> = {};
  for (let run = 1; run <= RUNS; run++) {
    for (const mode of MODES) {
      await drive(clients[mode], RATE, WARMUP_S);
      globalThis.gc?.();
      const f = await drive(clients[mode], RATE, SECONDS);
      (results[mode] ??= []).push(f.cpuMsPerRequest);
      console.log(`run ${run} ${mode.padEnd(5)} ${f.cpuMsPerRequest.toFixed(4)} ms CPU/request (user ${f.userMs.toFixed(4)}, system ${f.systemMs.toFixed(4)})  (${f.done} done, ${f.errors} errors, ${f.rate.toFixed(0)}/s)`);
    }
  }
  console.log('\nmode   min      median   (ms CPU per request, client process)');
  for (const mode of MODES) {
    const xs = results[mode];
    console.log(`${mode.padEnd(6)} ${Math.min(...xs).toFixed(4)}   ${median(xs).toFixed(4)}`);
  }
  if (results.node && results.wire) {
    console.log(`\nwire saves ${(median(results.node) - median(results.wire)).toFixed(4)} ms per request (median against median)`);
  }
  target.stop();
}

await main();
