// vigil cluster list NAME / vigil group list NAME: one read of etcd, with
// the config's coordination settings, printed like `patronictl list`: a
// line about the whole, then a row per member. Independent of any agent:
// it works when this host's agent is down.
import type { Etcd3 } from 'etcd3';
import { createEtcdClient, describeEtcd } from '../coordination/etcd-client.js';
import { clusterKeys } from '../coordination/cluster-records.js';
import { readCluster } from '../coordination/cluster-snapshot.js';
import { clusterRows } from '../failover/cluster-table.js';
import { groupKeys } from '../groups/records.js';
import { readGroup } from '../groups/snapshot.js';
import { groupRows } from '../groups/group-table.js';
import { relative } from '../status/format.js';
import { CliError, reportError } from './errors.js';
import { configFile, flag, parse, positionals } from './options.js';
import { readClientConfig } from './client-config.js';
import { cut, paint, table, terminalStyle, wrap, type Cell } from './style.js';

export const LIST_USAGE = {
  cluster: 'vigil cluster list NAME [--json] [--config FILE]',
  group: 'vigil group list NAME [--json] [--config FILE]',
} as const;

async function withEtcd<T>(args: readonly string[], env: NodeJS.ProcessEnv, usage: string,
  read: (client: Etcd3, prefix: string, name: string) => Promise<T>): Promise<{ value: T; name: string; json: boolean; etcd: string }> {
  const p = parse(args, { json: { type: 'boolean' } }, usage);
  const [name] = positionals(p, ['NAME'], usage);
  const { file } = configFile(p);
  const cfg = await readClientConfig(file, env);
  if (!cfg.coordination) throw new CliError('VIGIL_E_NO_COORDINATION', `${file} has no coordination: section; name the config of a host that coordinates through etcd with --config FILE`);
  const client = createEtcdClient(cfg.coordination.etcd);
  try {
    return { value: await read(client, cfg.coordination.etcd.prefix, name), name, json: flag(p, 'json'), etcd: describeEtcd(cfg.coordination.etcd) };
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError('VIGIL_E_ETCD_UNAVAILABLE', `${describeEtcd(cfg.coordination.etcd)} did not answer (${(err as Error).message.slice(0, 200)}); check that etcd is up and reachable from here`);
  } finally {
    client.close();
  }
}

export async function clusterListCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  try {
    const r = await withEtcd(args, env, LIST_USAGE.cluster, (client, prefix, name) => readCluster(client, clusterKeys(prefix, name)));
    const snap = r.value;
    const rows = clusterRows(snap);
    const primary = snap.primary?.value;
    if (!primary && rows.length === 0) throw new CliError('VIGIL_E_NOT_FOUND', `nothing in etcd for cluster "${r.name}" (${r.etcd}); is the name right, and is the prefix the agents use?`, 1);
    const block = snap.recoveryBlock?.value;
    if (r.json) {
      process.stdout.write(`${JSON.stringify({ cluster: r.name, etcd: r.etcd, revision: snap.revision, primary: primary ?? null, primary_lease: snap.primaryLease?.value ?? null, recovery_block: block ?? null, members: rows }, null, 2)}\n`);
      return 0;
    }
    const s = terminalStyle(process.stdout, env);
    const now = Date.now();
    const blockText = block ? (block.acknowledged === null && block.until > now ? `; recovery block in force ${relative(new Date(block.until).toISOString(), now)} (vigil cluster acknowledge ${r.name})` : '; recovery block acknowledged or expired') : '';
    const head = `cluster ${r.name}: primary ${primary ? `${primary.name}, epoch ${primary.epoch}` : 'NONE'}; primary lease ${snap.primaryLease ? `held by ${snap.primaryLease.value.member}` : 'FREE'}${blockText}`;
    const lines = table(s, [
      { title: 'MEMBER', max: 16 }, { title: 'ADDRESS', max: 21 }, { title: 'ROLE', max: 10 }, { title: 'STATE', max: 14 }, { title: 'LAG', max: 6, align: 'right' },
      { title: 'EPOCH', max: 5, align: 'right' }, { title: 'FENCED', max: 6 }, { title: 'LEASE', max: 5 }, { title: 'LAST SEEN', max: 14 },
    ], rows.map((m): Array<string | Cell> => [
      m.name, m.address ?? '', m.role, { text: m.state, colour: m.state === 'streaming' || m.state === 'running' ? 'green' : m.state === 'fenced' || m.state === 'connecting' ? 'yellow' : 'red' },
      m.lag_seconds === null ? '' : `${m.lag_seconds}s`, m.epoch_seen === null ? '' : String(m.epoch_seen), m.fenced === null ? '' : m.fenced ? 'yes' : 'no', m.lease ? 'held' : '',
      relative(m.published_at, now),
    ]));
    process.stdout.write(`${[...wrap(head, s.width, '', 3), paint(s, 'grey', cut(`read from ${r.etcd} at revision ${snap.revision}`, s.width)), ...lines].join('\n')}\n`);
    return 0;
  } catch (err) {
    return reportError('cluster list', err);
  }
}

export async function groupListCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  try {
    const r = await withEtcd(args, env, LIST_USAGE.group, (client, prefix, name) => readGroup(client, groupKeys(prefix, name)));
    const snap = r.value;
    const rows = groupRows(snap);
    if (!snap.active && rows.length === 0 && !snap.paused) throw new CliError('VIGIL_E_NOT_FOUND', `nothing in etcd for group "${r.name}" (${r.etcd}); is the name right, and is the prefix the agents use?`, 1);
    if (r.json) {
      process.stdout.write(`${JSON.stringify({ group: r.name, etcd: r.etcd, revision: snap.revision, active: snap.active ? { member: snap.active.record?.member ?? null, token: snap.active.token, since: snap.active.record?.since ?? null } : null,
        paused: snap.paused ?? null, switchover: snap.switchover ? { from: snap.switchover.from, to: snap.switchover.to, by: snap.switchover.by, at: snap.switchover.at } : null, members: rows }, null, 2)}\n`);
      return 0;
    }
    const s = terminalStyle(process.stdout, env);
    const now = Date.now();
    const a = snap.active;
    const head = `group ${r.name}: active ${a ? `${a.record?.member ?? '(unreadable record)'}, fencing token ${a.token}` : 'NOBODY'}`
      + `${snap.paused ? `; PAUSED by ${snap.paused.by}` : ''}${snap.switchover ? `; switchover to ${snap.switchover.to ?? 'anyone'} pending` : ''}`;
    const lines = table(s, [
      { title: 'MEMBER', max: 16 }, { title: 'ADDRESS', max: 21 }, { title: 'ROLE', max: 12 }, { title: 'PRIO', max: 4, align: 'right' },
      { title: 'TOKEN', max: 10, align: 'right' }, { title: 'CHANGED', max: 12 }, { title: 'STATE', max: 60 },
    ], rows.map((m): Array<string | Cell> => [
      m.member, m.address ?? '', { text: m.role, colour: m.role === 'active' ? 'green' : undefined }, String(m.priority), m.token ?? '',
      relative(m.published_at, now), { text: m.state, colour: m.eligible ? undefined : 'yellow' },
    ]));
    // A member's record is bound to its agent's lease: listed means alive; CHANGED is when it last said something new.
    process.stdout.write(`${[...wrap(head, s.width, '', 3), paint(s, 'grey', cut(`read from ${r.etcd} at revision ${snap.revision}`, s.width)), ...lines].join('\n')}\n`);
    return 0;
  } catch (err) {
    return reportError('group list', err);
  }
}
