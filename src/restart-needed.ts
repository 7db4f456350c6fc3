// Which parts of a reloaded config the running agent cannot take over
// without a restart, each in a sentence: the reload's answer, its log line
// and /status say them until the agent restarts. Compared with what the
// agent runs (started with), not with the previous reload, so a second
// reload does not forget the first one's.
import { isDeepStrictEqual } from 'node:util';
import type { VigilConfig } from './config/schema.js';

export interface Running {
  /** The listener's address as started (undefined when a test overrides it). */
  readonly listen: { readonly host: string; readonly port: number } | undefined;
  readonly coordination: VigilConfig['coordination'];
  /** Whether the agent started with coordination (groups need it). */
  readonly coordinates: boolean;
  /** Where the open remediation journal is (undefined: none open yet, so a new state_dir applies). */
  readonly journalDir: string | undefined;
}

const hp = (a: { host: string; port: number }) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

export function restartNeeded(running: Running, next: VigilConfig): string[] {
  const out: string[] = [];
  const l = next.agent.listen;
  if (running.listen && (running.listen.host !== l.host || running.listen.port !== l.port)) {
    out.push(`agent.listen: still ${hp(running.listen)} until a restart (the file says ${hp(l)})`);
  }
  if (!isDeepStrictEqual(running.coordination, next.coordination)) {
    out.push('coordination: etcd and member settings take effect after a restart');
  } else if (!running.coordinates && next.groups.length > 0) {
    out.push('groups: need coordination:, which takes effect after a restart');
  } else if (!running.coordinates && next.remediations.some((r) => r.fleet !== undefined)) {
    out.push('fleet: rules need coordination:, which takes effect after a restart; they refuse until then (lock_unavailable)');
  }
  if (running.journalDir !== undefined && running.journalDir !== next.agent.state_dir) {
    out.push(`agent.state_dir: the journal stays in ${running.journalDir} until a restart`);
  }
  return out;
}
