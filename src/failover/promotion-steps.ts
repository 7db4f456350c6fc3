// The promotion itself, after every gate passed and with the lock held. The
// intent goes to etcd before any SQL (the engine has journalled it locally
// already), so whoever looks after a crash — this agent restarted, or an
// operator — can tell "never started" from "half done".
import type { ExecuteResult } from '../actions/types.js';
import { clearIntent, readPrimary, writeIntent } from '../coordination/cluster-records.js';
import { MysqlConnector } from '../mysql/connection.js';
import { fenceLocal, detectFlavor } from '../mysql/fencing.js';
import { promoteLocal } from '../mysql/promote-replica.js';
import { claimPrimary } from './claim.js';
import { runHook, type PromotionContext } from './hooks.js';
import type { FailoverDeps } from './deps.js';
import type { ClusterMember } from './member.js';
import type { GateLog, Prepared } from './promotion-gates.js';

const SQL_TIMEOUT_MS = 15_000;

function text(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 200);
}

/** Best effort, bounded: the old primary may be dead (then its own agent fences it when it returns). */
async function fenceOldPrimary(member: ClusterMember, host: string, port: number, timeoutMs: number): Promise<string> {
  // The pinned key is the local server's: another server cannot read what is encrypted to it.
  const connector = new MysqlConnector({ ...member.local.target, host, port, socket: undefined, serverPublicKey: undefined }, false);
  const res = await connector.run(AbortSignal.timeout(timeoutMs), timeoutMs, async (link) => fenceLocal(link, await detectFlavor(link)));
  await connector.close();
  return res.ok ? `old primary ${host}:${port} set read_only` : `old primary ${host}:${port} not fenced now (${res.message}); its agent fences it when it returns`;
}

export async function executePromotion(member: ClusterMember, d: FailoverDeps, p: Prepared, log: GateLog,
  ctx: { rule: string; intentId: string; signal: AbortSignal }): Promise<ExecuteResult> {
  const s = member.settings;
  const failed = (detail: string): ExecuteResult => { log.add('promotion', false, detail); return { outcome: 'failed', detail }; };
  if (!p.lock.valid(1000)) return failed('the cluster lock was lost before promoting; nothing changed');
  const base = p.base?.value;
  try {
    await writeIntent(d.client, member.keys, { intent_id: ctx.intentId, member: member.name, base_epoch: base?.epoch ?? 0, base_primary: base?.name ?? null, at: d.now() });
  } catch (err) {
    return failed(`cannot record the intent in etcd (${text(err)}); nothing changed`);
  }
  const pctx: PromotionContext = {
    cluster: s.cluster, rule: ctx.rule, intentId: ctx.intentId, epoch: (base?.epoch ?? 0) + 1,
    oldPrimary: { name: p.primary.name ?? '', host: p.primary.host, port: p.primary.port },
    newPrimary: { name: member.name, host: s.advertise.host, port: s.advertise.port },
  };
  const abandon = async (detail: string) => {
    await clearIntent(d.client, member.keys, member.name).catch(() => undefined);
    return failed(detail);
  };
  if (s.prePromote) {
    const pre = await runHook(s.prePromote, 'pre_promote', d.env, pctx);
    if (!pre.ok) return abandon(`vetoed: ${pre.detail}; nothing changed`);
    log.add('promotion', true, pre.detail);
  }
  // The hook may have taken a while: the lock and the record must still be as they were.
  const current = await readPrimary(d.client, member.keys).catch(() => 'unreachable' as const);
  if (current === 'unreachable' || current?.modRevision !== p.base?.modRevision || !p.lock.valid(1000)) {
    return abandon('the lock or the primary record changed before the promotion started; nothing changed');
  }

  const t0 = d.now();
  const flavor = p.self.flavor!;
  const sql = await member.local.change(SQL_TIMEOUT_MS, (link) => promoteLocal(link, flavor), ctx.signal);
  if (!sql.ok) {
    const back = await member.local.change(SQL_TIMEOUT_MS, (link) => fenceLocal(link, flavor));
    return abandon(`promotion SQL failed (${sql.error}); local server ${back.ok ? 'set read_only again' : `could not be set read_only (${back.error})`}: check it by hand`);
  }
  const claim = await claimPrimary({
    client: d.client, keys: member.keys, base: p.base, me: member.name, intentId: ctx.intentId, endpoint: s.advertise,
    serverId: p.self.server_id, forkGtid: p.self.gtid_received, recoveryBlockMs: s.recoveryBlockMs, now: d.now(), deadline: p.lock.validUntil(),
  });
  if (claim.kind !== 'won') {
    // Two writable servers are worse than none: step back at once.
    const back = await member.local.change(SQL_TIMEOUT_MS, (link) => fenceLocal(link, flavor));
    const why = claim.kind === 'lost' ? `lost the primary record to ${claim.winner?.name ?? 'nobody'}` : `could not write the primary record (${claim.detail})`;
    if (claim.kind === 'lost') await clearIntent(d.client, member.keys, member.name).catch(() => undefined);
    // When etcd was unreachable the intent stays: the member loop completes or abandons it once etcd answers.
    return failed(`${why}; local server ${back.ok ? 'set read_only again' : `NOT set read_only (${back.error})`}`);
  }
  const promotedMs = d.now() - t0;
  d.setEpoch(s.cluster, claim.record.epoch);
  await clearIntent(d.client, member.keys, member.name).catch(() => undefined);
  const parts = [`promoted ${member.name} (${s.advertise.host}:${s.advertise.port}) to primary at epoch ${claim.record.epoch} in ${promotedMs} ms (${sql.value.join('; ')})`];
  log.add('promotion', true, parts[0]);
  // The writer endpoint must not wait on a dead host: post_promote runs beside the best-effort fence.
  const [fence, post] = await Promise.all([
    fenceOldPrimary(member, p.primary.host, p.primary.port, s.fenceTimeoutMs),
    s.postPromote ? runHook(s.postPromote, 'post_promote', d.env, pctx) : Promise.resolve(undefined),
  ]);
  parts.push(fence);
  if (post) {
    parts.push(post.ok ? post.detail : `WARNING ${post.detail}`);
    log.add('promotion', post.ok, post.detail);
  }
  return { outcome: 'succeeded', detail: parts.join('; ') };
}
