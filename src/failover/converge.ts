// What the local server must do so that it agrees with the cluster's primary
// record: pure, so each case is tested on its own. The record in etcd is the
// only authority; a server that disagrees with it is changed, never the record.
import type { PrimaryRecord } from '../coordination/cluster-records.js';
import type { ServerState } from '../mysql/server-state.js';
import { describeEndpoint } from './view.js';

export type Convergence =
  | { readonly kind: 'none'; readonly detail: string }
  /** No record yet and this server is a writable non-replica: it is the primary; write epoch 1. */
  | { readonly kind: 'bootstrap'; readonly detail: string }
  /** Writable but the record names another member: set read_only. */
  | { readonly kind: 'fence'; readonly detail: string }
  /** A replica of someone other than the recorded primary: repoint it. */
  | { readonly kind: 'follow'; readonly detail: string; readonly source: { readonly host: string; readonly port: number } };

export interface ConvergeInput {
  readonly me: string;
  readonly state: ServerState | undefined;
  readonly record: PrimaryRecord | undefined;
  /** Whether to write the first record when none exists (config: bootstrap). */
  readonly bootstrap: boolean;
}

export function converge({ me, state, record, bootstrap }: ConvergeInput): Convergence {
  if (!state) return { kind: 'none', detail: 'local server unreachable: nothing to align' };
  const writable = !state.readOnly;
  if (!record) {
    if (bootstrap && writable && !state.replica) return { kind: 'bootstrap', detail: 'no primary record yet and the local server is a writable primary' };
    return { kind: 'none', detail: 'no primary record yet' };
  }
  const primary = describeEndpoint(record);
  if (record.name === me) {
    return { kind: 'none', detail: writable ? `this member is the primary (epoch ${record.epoch})`
      : `the record names this member (epoch ${record.epoch}) but its server is read_only; left as it is for an operator` };
  }
  // A second writable server is the split brain fencing exists for; it comes
  // first, even before repointing, because every second it takes writes counts.
  if (writable) {
    return { kind: 'fence', detail: `the record names ${record.name} (${primary}) at epoch ${record.epoch}, yet the local server is writable` };
  }
  if (!state.replica) {
    return { kind: 'none', detail: `fenced: read_only, not a replica; rejoin it to ${record.name} (${primary}) by hand once its data is checked` };
  }
  const r = state.replica;
  if (r.sourceHost !== record.host || r.sourcePort !== record.port) {
    return { kind: 'follow', detail: `replicates from ${r.sourceHost}:${r.sourcePort ?? '?'}; the primary is ${record.name} (${primary}) at epoch ${record.epoch}`,
      source: { host: record.host, port: record.port } };
  }
  return { kind: 'none', detail: `follows ${record.name} (${primary}) at epoch ${record.epoch}` };
}
