// bench/failover: on the real three-server lab (MariaDB primary + 2 replicas,
// 3-node etcd, three vigil agents as processes; probe interval 1s,
// failures_before_critical 3; primary lease ttl 4s, renew_deadline 2s), the
// time from a kill of the primary to the new primary accepting a write, over
// N runs (default 7, at least 5) of each kind of kill:
//   mysqld   SIGKILL of mariadbd only: its agent releases the lease at once
//   host     SIGKILL of mariadbd and its agent together: the lease is waited out
// and then, on the network-namespace lab, partitions of the primary's host
// (bench/failover-partition.ts), unless --no-partition.
//
//   node --import tsx bench/failover.ts [runs] [--no-partition]
//
// "Accepting a write" is an INSERT by an application user (no SUPER, no
// READ_ONLY ADMIN, so read_only stops it) tried every 20 ms against both
// replicas. Also reported: when the new primary record appeared in etcd, and
// when the writer endpoint (moved by post_promote) took a write.
import mysql from 'mysql2/promise';
import { Lab, sleep, until, type Member } from '../test/failover/lab.js';
import { caughtUp, others } from '../test/failover/steps.js';
import { startTcpProxy } from '../test/harness/tcp-proxy.js';

const runs = Math.max(5, Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 7));
const partition = !process.argv.includes('--no-partition');
type Kill = 'mysqld' | 'host';
const APP = { user: 'bench_app', password: 'bench-app-pw' };

async function tryInsert(port: number, v: string): Promise<boolean> {
  let c: mysql.Connection | undefined;
  try {
    c = await mysql.createConnection({ host: '127.0.0.1', port, ...APP, connectTimeout: 500 });
    await c.query('INSERT INTO lab.t (v) VALUES (?)', [v]);
    return true;
  } catch {
    return false;
  } finally {
    c?.destroy();
  }
}

/** Resolves with ms since t0 at the first INSERT `ports()` accepts. */
async function firstWrite(ports: () => number[], t0: number, tag: string, stop: { done: boolean }): Promise<number> {
  for (let i = 0; !stop.done; i++) {
    for (const p of ports()) if (await tryInsert(p, `${tag}-${p}-${i}`)) return Date.now() - t0;
    await sleep(20);
  }
  return NaN;
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  return `min ${f(s[0])}  median ${f(med)}  max ${f(s[s.length - 1])}`;
}

async function main(): Promise<void> {
  const results: string[] = [];
  await loopback(results);
  if (partition) {
    const { measurePartitionRuns } = await import('./failover-partition.js');
    const p = await measurePartitionRuns(runs);
    results.push(`partition of the primary's host over ${runs} runs:\n`
      + `  → old primary read_only:   ${stats(p.cutToOldReadOnlyMs)}\n`
      + `  → new primary writable:    ${stats(p.cutToNewWritableMs)}\n`
      + `  split brain (both writable): ${stats(p.splitBrainMs)}\n`);
  }
  process.stdout.write(`\nprobe interval 1s, failures_before_critical 3, primary lease ttl 4s / renew_deadline 2s:\n${results.join('')}`);
}

async function loopback(results: string[]): Promise<void> {
  const lab = await Lab.start();
  const writer = await startTcpProxy({ file: lab.writerFile });
  try {
    await lab.fresh('db1');
    await lab.createApp('db1', APP);
    let current: Member = 'db1';
    for (const kind of ['mysqld', 'host'] as Kill[]) {
      const direct: number[] = [];
      const record: number[] = [];
      const endpoint: number[] = [];
      for (let i = 1; i <= runs; i++) {
        await lab.settled(current);
        await caughtUp(lab, current);
        await sleep(Math.floor(Math.random() * 1000)); // random phase against the 1 s probe interval
        const replicas = others(current).map((m) => lab.node(m).port);
        const before = (await lab.record())!.epoch;
        const stop = { done: false };
        const t0 = Date.now();
        const tag = `bench-${kind}-${i}-${t0}`;
        const w = firstWrite(() => replicas, t0, `${tag}-d`, stop);
        // Through the writer endpoint: only counts once it points somewhere new.
        const e = firstWrite(() => (writer.target().port !== lab.node(current).port ? [writer.port] : []), t0, `${tag}-e`, stop);
        const r = until('record', async () => ((await lab.record())?.epoch ?? 0) > before, 60_000, 20).then(() => Date.now() - t0);
        const killed = Promise.all([lab.node(current).kill(), kind === 'host' ? lab.agents[current].kill('SIGKILL') : undefined]);
        const [dw, dr, de] = await Promise.all([w, r, e]);
        stop.done = true;
        await killed;
        direct.push(dw);
        record.push(dr);
        endpoint.push(de);
        const rec = (await lab.record())!;
        process.stdout.write(`${kind} run ${i}: ${current} killed → ${rec.name} accepted a write after ${(dw / 1000).toFixed(2)} s `
          + `(record ${(dr / 1000).toFixed(2)} s, writer endpoint ${(de / 1000).toFixed(2)} s)\n`);
        const promoted = rec.name as Member;
        await finishFailover(lab, current, promoted, kind);
        current = promoted;
      }
      results.push(`${kind === 'mysqld' ? 'mysqld SIGKILL' : 'host kill (agent + mysqld)'} over ${runs} runs:\n`
        + `  → new primary accepts a write:   ${stats(direct)}\n`
        + `  → new primary record in etcd:    ${stats(record)}\n`
        + `  → writer endpoint takes a write: ${stats(endpoint)}\n`);
    }
  } finally {
    await writer.close();
    await lab.stop();
  }
}

/** What the tests' failover() checks after its kill, minus the assertions: the cluster is whole again for the next run. */
async function finishFailover(lab: Lab, old: Member, promoted: Member, kind: Kill): Promise<void> {
  const follower = others(old).find((m) => m !== promoted)!;
  await until(`${follower} follows ${promoted}`, async () => {
    const [s] = await lab.node(follower).query<Record<string, unknown>>('SHOW REPLICA STATUS');
    return s && Number(s.Master_Port) === lab.node(promoted).port && s.Slave_IO_Running === 'Yes';
  });
  await lab.node(old).start({ readOnly: false });
  if (kind === 'host') await lab.agents[old].start();
  await until(`${old} fenced`, async () => (await lab.readOnly(old)) === 1, 15_000, 50);
  await lab.rejoined(old, promoted);
}

main().then(() => process.exit(0), (err: unknown) => { process.stderr.write(`bench/failover: ${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });
