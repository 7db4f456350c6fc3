// Which mount holds a path, and whether it is read-only, from
// /proc/self/mountinfo (statfs in Node does not report mount flags).
import { readFile } from 'node:fs/promises';

export interface MountInfo { mountPoint: string; readOnly: boolean; fsType: string }

/** Octal escapes (\040 for space) as the kernel writes them in mountinfo. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    const f = left.split(' ');
    if (f.length < 6 || !right) continue;
    // The filesystem's own flags (the super options, last field), not this mount's: a sandbox
    // (systemd's ProtectSystem=strict, which vigil.service uses) makes the agent's view of every
    // mount read-only while the host writes fine; a filesystem remounted read-only (by an admin,
    // or by the kernel after errors) is read-only in every namespace.
    const superOpts = (right.split(' ')[2] ?? '').split(',');
    out.push({ mountPoint: unescape(f[4]), readOnly: superOpts.includes('ro'), fsType: right.split(' ')[0] });
  }
  return out;
}

/** The last-mounted, longest mount point that contains `realPath`. */
export function mountFor(mounts: readonly MountInfo[], realPath: string): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of mounts) {
    const inside = realPath === m.mountPoint || realPath.startsWith(m.mountPoint.endsWith('/') ? m.mountPoint : `${m.mountPoint}/`);
    if (inside && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

export async function readMounts(): Promise<MountInfo[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}
