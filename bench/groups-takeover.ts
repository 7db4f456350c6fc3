// bench/groups-takeover: active/standby takeover (issue #12) on the group lab
// (test/groups/group-lab.ts: members g1..g3 each in its own network
// namespace with an app and a vigil agent in the `web` group, a 3-node etcd
// on hosts of its own, a real HAProxy in front checking /role/web). N runs
// (default 7) of each:
//   service death   SIGKILL of the active member's app: its probe goes
//                   critical, it steps down, another member takes over
//   partition       the active member's host cut off (its bridge port down):
//                   its lease runs out, another member takes over
// Per run, from the kill or the cut (times from the hooks' marks, which
// every namespace writes to one file on the shared clock):
//   → new active's on_active done
//   → HAProxy: the first request (fresh connection, one every ~25 ms) that
//     the new active member's app answered
//   overlap of active intervals (on_active start .. on_standby end): must be 0
// Each run starts after a random 0-500 ms pause (against the 250 ms probe
// and check intervals) and ends with the old member healthy and standby
// again (preempt is off, so the role stays where it went). The steps are the
// ones active-standby.test.ts asserts on (test/groups/takeover-steps.ts).
//
//   node --import tsx bench/groups-takeover.ts [--runs 7]
//
// Exits 1 if any run saw two members active at once. Ctrl-C stops the lab
// (namespaces, etcd, HAProxy, agents) before exiting.
import { dur } from '../test/groups/group-agent.js';
import { GroupLab, type Member } from '../test/groups/group-lab.js';
import {
  T, cutActiveHost, healHost, killActiveService, restoreService, settle, type Takeover,
} from '../test/groups/takeover-steps.js';
import { ThroughWatch } from '../test/groups/through-watch.js';
import { sleep } from '../test/helpers/wait.js';

function runsArg(argv: readonly string[]): number {
  const i = argv.indexOf('--runs');
  const v = i >= 0 ? Number(argv[i + 1]) : 7;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--runs needs a whole number >= 1 (got ${argv[i + 1]})`);
  return v;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function stats(xs: readonly number[]): string {
  const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  return `median ${f(median(xs))}  min ${f(Math.min(...xs))}  max ${f(Math.max(...xs))}`;
}

type Kind = Takeover['kind'];

async function measure(lab: GroupLab, kind: Kind, runs: number): Promise<Takeover[]> {
  const out: Takeover[] = [];
  for (let i = 1; i <= runs; i++) {
    const old: Member = await settle(lab);
    await sleep(Math.floor(Math.random() * 500));
    const watch = ThroughWatch.start(lab);
    let r: Takeover;
    try {
      r = kind === 'service death' ? await killActiveService(lab, old, watch) : await cutActiveHost(lab, old, watch);
    } finally {
      await watch.stop();
      if (kind === 'service death') await restoreService(lab, old); else await healHost(lab, old);
    }
    out.push(r);
    const sb = r.oldStandbyEnd ? `${old}'s on_standby (${r.oldStandbyEnd.cause}) done ${(r.oldStandbyEnd.at - r.t0) / 1000} s, ` : '';
    process.stdout.write(`${kind} run ${i}: ${old} ${kind === 'service death' ? 'app killed' : 'host cut'} → ${sb}`
      + `${r.next}'s on_active done ${(r.takeoverMs / 1000).toFixed(2)} s; HAProxy served by ${r.next} after ${(r.haproxyMs / 1000).toFixed(2)} s `
      + `(${r.failedRequests} requests failed); overlap ${r.overlapMs} ms\n`);
  }
  return out;
}

function report(kind: Kind, rs: readonly Takeover[]): string {
  const what = kind === 'service death' ? 'service death (SIGKILL of the active member\'s app)' : 'partition of the active member\'s host';
  const oldDone = rs.flatMap((r) => (r.oldStandbyEnd ? [r.oldStandbyEnd.at - r.t0] : []));
  return `${what} over ${rs.length} runs:\n`
    + (oldDone.length === rs.length ? `  → old active's on_standby done:  ${stats(oldDone)}\n` : '')
    + `  → new active's on_active done:   ${stats(rs.map((r) => r.takeoverMs))}\n`
    + `  → HAProxy serves the new active: ${stats(rs.map((r) => r.haproxyMs))}\n`
    + `  overlap of active intervals:     ${rs.map((r) => r.overlapMs).join(' / ')} ms (must be 0)\n`;
}

async function main(): Promise<number> {
  const runs = runsArg(process.argv.slice(2));
  const t0 = Date.now();
  const lab = await GroupLab.start();
  const onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`\nbench/groups-takeover: ${sig}, stopping the lab\n`);
    void lab.stop().catch(() => undefined).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await lab.startAgents();
    process.stdout.write(`group lab ${lab.net.prefix} on ${lab.net.subnet}: three agents settled, ${await settle(lab)} active, in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const service = await measure(lab, 'service death', runs);
    const partition = await measure(lab, 'partition', runs);
    const all = [...service, ...partition];
    const overlapping = all.filter((r) => r.overlapMs > 0);
    process.stdout.write(`\ngroup web: probe interval ${dur(T.probeIntervalMs)}, failures_before_critical ${T.failuresBeforeCritical}; `
      + `lease_ttl ${dur(T.leaseTtlMs)}, renew_interval ${dur(T.renewIntervalMs)}, renew_deadline ${dur(T.renewDeadlineMs)}, `
      + `takeover_delay ${dur(T.takeoverDelayMs)}, check_interval ${dur(T.checkIntervalMs)}, on_standby timeout ${dur(T.onStandbyTimeoutMs)}; `
      + `hooks: mark-hook.sh (no simulated work); HAProxy inter 250ms fall 2 rise 1\n`
      + report('service death', service) + report('partition', partition)
      + `summary: takeover (→ new active's on_active done) median ${(median(service.map((r) => r.takeoverMs)) / 1000).toFixed(2)} s after a service death, `
      + `${(median(partition.map((r) => r.takeoverMs)) / 1000).toFixed(2)} s after a partition; `
      + `overlap of active intervals ${overlapping.length === 0 ? `0 ms in all ${all.length} runs` : `NON-ZERO in ${overlapping.length} of ${all.length} runs`}\n`);
    return overlapping.length === 0 ? 0 : 1;
  } finally {
    await lab.stop();
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`bench/groups-takeover: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
