// Real filesystems for the disk probe: a small tmpfs (we are root), and a
// loop-mounted ext4 image that can be frozen with fsfreeze to make writes hang
// the way a dead mount does. Teardown always unfreezes and unmounts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './tools.js';

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface TestMount {
  /** The mount point. */
  readonly path: string;
  remount(opts: 'ro' | 'rw'): void;
  /** Writes a file of `bytes` zero bytes (ENOSPC when it does not fit). */
  fill(name: string, bytes: number): void;
  cleanup(): void;
}

export function mountTmpfs(options = 'size=4m'): TestMount {
  const mount = requireTool('mount', 'mount');
  const umount = requireTool('umount', 'mount');
  const base = mkdtempSync(join(tmpdir(), 'vigil-disk-'));
  const path = join(base, 'mnt');
  mkdirSync(path);
  run(mount, ['-t', 'tmpfs', '-o', options, 'vigil-test', path]);
  let mounted = true;
  return {
    path,
    remount: (o) => run(mount, ['-o', `remount,${o}`, path]),
    fill: (name, bytes) => writeFileSync(join(path, name), Buffer.alloc(bytes)),
    cleanup: () => {
      if (mounted) {
        try { run(umount, [path]); } catch { run(umount, ['-l', path]); }
        mounted = false;
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export interface FreezableMount extends TestMount {
  freeze(): void;
  thaw(): void;
}

/** ext4 in a file, loop-mounted; `freeze()` makes every write to it block until `thaw()`. */
export function mountFreezableExt4(sizeMiB = 8): FreezableMount {
  const mount = requireTool('mount', 'mount');
  const umount = requireTool('umount', 'mount');
  const mkfs = requireTool('mkfs.ext4', 'e2fsprogs');
  const fsfreeze = requireTool('fsfreeze', 'util-linux');
  const base = mkdtempSync(join(tmpdir(), 'vigil-freeze-'));
  const image = join(base, 'fs.img');
  const path = join(base, 'mnt');
  mkdirSync(path);
  writeFileSync(image, Buffer.alloc(0));
  run('truncate', ['-s', `${sizeMiB}M`, image]);
  run(mkfs, ['-q', '-F', image]);
  run(mount, ['-o', 'loop', image, path]);
  let frozen = false;
  let mounted = true;
  return {
    path,
    remount: (o) => run(mount, ['-o', `remount,${o}`, path]),
    fill: (name, bytes) => writeFileSync(join(path, name), Buffer.alloc(bytes)),
    freeze: () => { run(fsfreeze, ['-f', path]); frozen = true; },
    thaw: () => { if (frozen) { run(fsfreeze, ['-u', path]); frozen = false; } },
    cleanup: () => {
      if (frozen) { try { run(fsfreeze, ['-u', path]); } catch { /* already thawed */ } frozen = false; }
      if (mounted) {
        try { run(umount, [path]); } catch { run(umount, ['-l', path]); }
        mounted = false;
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}
