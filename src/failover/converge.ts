// What the local server must do so that it agrees with the cluster's primary
// record: pure, so each case is tested on its own. The record in etcd is the
// only authority; a server that disagrees with it is changed, never the record.
import type { PrimaryRecord } from '../coordination/cluster-records.js';
import type { ServerState } from '../mysql/server-state.js';
import { errantPart, parseGtid } from '../mysql/gtid.js';
import { describeEndpoint } from './view.js';

export type Convergence =
  | { readonly kind: 'none'; readonly detail: string }
  /** No record yet and this server is a writable non-replica: it is the primary; write epoch 1. */
  | { readonly kind: 'bootstrap'; readonly detail: string }
  /** Writable but the record names another member: set read_only. */
  | { readonly kind: 'fence'; readonly detail: string }
  /** A replica of someone other than the recorded primary: repoint it. */
  | { readonly kind: 'follow'; readonly detail: string; readonly source: { readonly host: string; readonly port: number } }
  /** A fenced old primary whose transactions the new primary all has: make it a replica of the new one. */
  | { readonly kind: 'rejoin'; readonly detail: string; readonly source: { readonly host: string; readonly port: number } }
  /**
   * A fenced old primary, or a replica still attached to it, holding
   * transactions the new primary lacks: it stays as it is for an operator.
   */
  | { readonly kind: 'errant'; readonly detail: string; readonly errant: string; readonly count: number }
  /** A replica of the right source whose IO thread would notice a vanished primary host too late. */
  | { readonly kind: 'tune'; readonly detail: string; readonly netTimeoutSeconds: number };

export interface ConvergeInput {
  readonly me: string;
  readonly state: ServerState | undefined;
  readonly record: PrimaryRecord | undefined;
  /** Whether to write the first record when none exists (config: bootstrap). */
  readonly bootstrap: boolean;
  /** Whether a fenced old primary may be repointed (replication credentials are configured). */
  readonly canRejoin: boolean;
  /** slave_net_timeout replicas should run with (seconds); 0 leaves them alone. */
  readonly netTimeoutSeconds: number;
}

export function converge({ me, state, record, bootstrap, canRejoin, netTimeoutSeconds }: ConvergeInput): Convergence {
  if (!state) return { kind: 'none', detail: 'local server unreachable: nothing to align' };
  const writable = !state.readOnly;
  if (!record) {
    if (bootstrap && writable && !state.replica) return { kind: 'bootstrap', detail: 'no primary record yet and the local server is a writable primary' };
    return { kind: 'none', detail: 'no primary record yet' };
  }
  const primary = describeEndpoint(record);
  if (record.name === me) {
    // Whether it may take writes is the primary lease's business (primary-guard.ts), not the record's.
    return { kind: 'none', detail: `this member is the primary (epoch ${record.epoch})${writable ? '' : ', read_only until it holds the primary lease'}` };
  }
  // A second writable server is the split brain fencing exists for; it comes
  // first, even before repointing, because every second it takes writes counts.
  if (writable) {
    return { kind: 'fence', detail: `the record names ${record.name} (${primary}) at epoch ${record.epoch}, yet the local server is writable` };
  }
  if (!state.replica) return rejoinOrStay(state, record, canRejoin);
  const r = state.replica;
  if (r.sourceHost !== record.host || r.sourcePort !== record.port) {
    const diverged = divergedReplica(state, record);
    if (diverged) return diverged;
    return { kind: 'follow', detail: `replicates from ${r.sourceHost}:${r.sourcePort ?? '?'}; the primary is ${record.name} (${primary}) at epoch ${record.epoch}`,
      source: { host: record.host, port: record.port } };
  }
  if (netTimeoutSeconds > 0 && state.netTimeoutSeconds > netTimeoutSeconds) {
    return { kind: 'tune', netTimeoutSeconds, detail: `slave_net_timeout is ${state.netTimeoutSeconds}s: its IO thread would notice a vanished primary host that late; `
      + `setting ${netTimeoutSeconds}s with a ${netTimeoutSeconds / 2}s heartbeat (replica_net_timeout)` };
  }
  return { kind: 'none', detail: `follows ${record.name} (${primary}) at epoch ${record.epoch}` };
}

/**
 * A replica still attached to the previous primary may have received what
 * that primary committed after the fork: a stalled primary that wakes up
 * commits the statements waiting in its sockets before its agent fences it,
 * and ships them to whoever is still connected. Repointed, such a replica
 * would stop with error 1236 (MariaDB) or keep the transactions as errant
 * GTIDs that a later promotion of it would hand on (MySQL). Compared with the
 * record's fork position, like an old primary; a replica of anyone else is
 * repointed as before. The member loop checks again with the threads stopped,
 * just before it repoints (what arrives between its reading and its STOP
 * REPLICA would otherwise slip through).
 */
export function divergedReplica(state: ServerState, record: PrimaryRecord): Convergence | undefined {
  const r = state.replica;
  const prev = record.previous;
  if (!r || !prev || prev.host !== r.sourceHost || prev.port !== r.sourcePort) return undefined;
  const primary = `${record.name} (${describeEndpoint(record)})`;
  const old = `${prev.name} (${describeEndpoint({ host: prev.host, port: prev.port })})`;
  const past = pastFork(state, state.received, record);
  if (past.kind === 'no_fork') {
    return { kind: 'none', detail: `replicates from the previous primary ${old}; the record (epoch ${record.epoch}) has no fork position to check what it received against, so repoint it to ${primary} by hand once its data is checked` };
  }
  if (past.kind === 'unreadable') {
    return { kind: 'none', detail: `replicates from the previous primary ${old}; cannot compare what it received with the fork position (${past.why}); repoint it to ${primary} by hand` };
  }
  if (!past.errant) return undefined;
  return { kind: 'errant', errant: past.errant, count: past.count, detail: `received from the previous primary ${old} transactions ${primary} never received (errant: ${past.errant}, after the fork position ${record.fork_gtid || 'empty'}); `
    + 'not repointed: it stays read_only and out of the cluster until an operator deals with them (docs/runbooks.md#errant-transactions)' };
}

type PastFork =
  | { readonly kind: 'no_fork' }
  | { readonly kind: 'unreadable'; readonly why: string }
  | { readonly kind: 'compared'; readonly errant: string; readonly count: number };

/** What `held` (GTIDs of the local server) has beyond the record's fork position: the one comparison both old primaries and replicas get. */
function pastFork(state: ServerState, held: string, record: PrimaryRecord): PastFork {
  if (typeof record.fork_gtid !== 'string') return { kind: 'no_fork' };
  try {
    const { text, count } = errantPart(parseGtid(state.flavor, held), parseGtid(state.flavor, record.fork_gtid));
    return { kind: 'compared', errant: text, count };
  } catch (err) {
    return { kind: 'unreadable', why: (err as Error).message };
  }
}

/** A read_only server that replicates from nobody: an old primary (or a new, empty server). */
function rejoinOrStay(state: ServerState, record: PrimaryRecord, canRejoin: boolean): Convergence {
  const primary = `${record.name} (${describeEndpoint(record)})`;
  const past = pastFork(state, state.binlog, record);
  if (past.kind === 'no_fork') {
    return { kind: 'none', detail: `fenced: read_only, not a replica; the record (epoch ${record.epoch}) has no fork position to check it against, so rejoin it to ${primary} by hand once its data is checked` };
  }
  if (past.kind === 'unreadable') return { kind: 'none', detail: `fenced: cannot compare its GTIDs with the fork position (${past.why}); rejoin it by hand` };
  const { errant, count } = past;
  if (errant) {
    return { kind: 'errant', errant, count, detail: `fenced: holds transactions ${primary} never received (errant: ${errant}); it stays read_only and out of the cluster until an operator deals with them (docs/runbooks.md#errant-transactions)` };
  }
  if (!canRejoin) return { kind: 'none', detail: `fenced: no errant transactions, but rejoining it to ${primary} needs \`replication:\` credentials in the mysql_promote action` };
  return { kind: 'rejoin', source: { host: record.host, port: record.port }, detail: `fenced old primary with no errant transactions (binlog ${state.binlog || 'empty'} within the fork position ${record.fork_gtid || 'empty'}): rejoining it to ${primary}` };
}
