// bench/failover-partition: on the network-namespace lab
// (test/failover/partition-lab.ts: MariaDB with its default replication
// timing, 3-node etcd, agents in their hosts' namespaces; primary lease ttl
// 4s, renew_deadline 2s), the primary's host is cut off from everyone, N
// times (default 7). Per run, from the cut:
//   → old primary read_only   as its own server says over its unix socket
//                             (what an application inside its host sees)
//   → new primary writable    the promoted replica answers read_only = 0
//   split brain               how long both were writable (0 unless the old
//                             one fenced after the new one opened)
// Both are polled every 20 ms. The step is the one partition.test.ts asserts
// on (cutPrimary in test/failover/partition-steps.ts); each run heals the
// host and waits for the old primary to be rejoined (or rebuilt) first.
//
//   node --import tsx bench/failover-partition.ts [runs]
// bench/failover.ts runs it after the loopback kills, through measurePartitionRuns.
import { pathToFileURL } from 'node:url';
import type { Member } from '../test/failover/lab.js';
import { PartitionLab } from '../test/failover/partition-lab.js';
import { cutPrimary, formatStats, ready, restoreOld } from '../test/failover/partition-steps.js';

export interface PartitionRuns {
  cutToOldReadOnlyMs: number[];
  cutToNewWritableMs: number[];
  splitBrainMs: number[];
}

export async function measurePartitionRuns(runs: number, report: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<PartitionRuns> {
  const out: PartitionRuns = { cutToOldReadOnlyMs: [], cutToNewWritableMs: [], splitBrainMs: [] };
  const lab = await PartitionLab.start();
  try {
    await lab.fresh('db1');
    let current: Member = 'db1';
    await ready(lab, current);
    for (let i = 1; i <= runs; i++) {
      const run = await cutPrimary(lab, current, { tag: `bench${i}` });
      const ro = run.oldReadOnlyAt - run.tCut;
      const rw = run.newWritableAt - run.tCut;
      const split = Math.max(0, run.oldReadOnlyAt - run.newWritableAt);
      out.cutToOldReadOnlyMs.push(ro);
      out.cutToNewWritableMs.push(rw);
      out.splitBrainMs.push(split);
      await lab.heal(run.old);
      const fate = await restoreOld(lab, run.old, run.promoted);
      report(`partition run ${i}: ${run.old} cut → read_only after ${ro} ms; ${run.promoted} writable after ${rw} ms; split brain ${split} ms; `
        + `healed, ${run.old} ${fate.kind === 'rejoined' ? 'rejoined by its agent' : `rebuilt (${fate.count} errant transactions)`}`
        + `${fate.follower.kind === 'errant' ? `; the other replica rebuilt too (${fate.follower.count} errant transactions)` : ''}`);
      current = run.promoted;
    }
  } finally {
    await lab.stop();
  }
  return out;
}

async function main(): Promise<void> {
  const runs = Math.max(1, Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 7));
  const p = await measurePartitionRuns(runs);
  process.stdout.write(`\npartition of the primary's host over ${runs} runs (primary lease ttl 4s, renew_deadline 2s, replica_net_timeout 4s):\n`
    + `  → old primary read_only:     ${formatStats(p.cutToOldReadOnlyMs)}\n`
    + `  → new primary writable:      ${formatStats(p.cutToNewWritableMs)}\n`
    + `  split brain (both writable): ${formatStats(p.splitBrainMs)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`bench/failover-partition: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
