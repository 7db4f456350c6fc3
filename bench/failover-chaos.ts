// bench/failover-chaos: the random primary kills of partition.test.ts (e),
// many times over (default 50) on the network-namespace lab, to find the rare
// run the test's five would miss. Each kill is mysqld only or agent + mysqld
// together (half each, shuffled), at a random phase (0–1 s) against the probe
// interval and the lease renewals; the old mysqld comes back WITHOUT
// read_only and must be fenced and rejoined by its agent (killAndRecover in
// test/failover/partition-steps.ts, shared with the test). A read_only
// sampler runs all along. Stops at the first run that does not recover.
//
//   node --import tsx bench/failover-chaos.ts [runs]
import { pathToFileURL } from 'node:url';
import type { Member } from '../test/failover/lab.js';
import { PartitionLab } from '../test/failover/partition-lab.js';
import { chaosModes, formatStats, killAndRecover, ready, type KillRun } from '../test/failover/partition-steps.js';

async function main(): Promise<void> {
  const runs = Math.max(1, Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 50));
  const lab = await PartitionLab.start();
  const results: KillRun[] = [];
  let failure: string | undefined;
  let promotions = 0;
  const t0 = Date.now();
  try {
    await lab.fresh('db1');
    let current: Member = 'db1';
    await ready(lab, current);
    const firstEpoch = (await lab.record())!.epoch;
    const sampler = lab.startSampler();
    for (const [i, mode] of chaosModes(runs).entries()) {
      const phaseMs = Math.floor(Math.random() * 1000);
      try {
        const r = await killAndRecover(lab, current, { mode, phaseMs, sampler });
        results.push(r);
        current = r.promoted;
        process.stdout.write(`kill ${i + 1}/${runs}: ${mode} of ${r.old} (phase ${phaseMs} ms) → ${r.promoted} writable after ${r.killToWritableMs} ms `
          + `(record ${r.killToRecordMs} ms); two writable: ${r.twoWritable.length} rounds\n`);
      } catch (err) {
        failure = `kill ${i + 1}/${runs} (${mode} of ${current}, phase ${phaseMs} ms) did not recover: ${err instanceof Error ? err.message : String(err)}`;
        process.stdout.write(`${failure}\n`);
        break;
      }
    }
    await sampler.stop();
    promotions = ((await lab.record().catch(() => undefined))?.epoch ?? firstEpoch) - firstEpoch;
  } finally {
    await lab.stop();
  }
  const kills = results.length + (failure ? 1 : 0);
  const two = results.reduce((n, r) => n + r.twoWritable.length, 0);
  const by = (mode: string) => results.filter((r) => r.mode === mode).map((r) => r.killToWritableMs);
  process.stdout.write(`\nchaos over ${Math.round((Date.now() - t0) / 1000)} s (primary lease ttl 4s, renew_deadline 2s; probe interval 1s, failures_before_critical 3):\n`
    + `  kills:                          ${kills}\n`
    + `  recovered:                      ${results.length}\n`
    + `  promotions (epoch steps):       ${promotions}\n`
    + `  sampler rounds, two writable:   ${two}\n`
    + `  kill → new primary writable:    ${formatStats(results.map((r) => r.killToWritableMs))}\n`
    + `    mysqld only:                  ${formatStats(by('mysqld'))}\n`
    + `    agent + mysqld:               ${formatStats(by('host'))}\n`
    + (failure ? `  FAILED: ${failure}\n` : ''));
  if (failure || two > 0) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(() => process.exit(process.exitCode ?? 0), (err: unknown) => {
    process.stderr.write(`bench/failover-chaos: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
