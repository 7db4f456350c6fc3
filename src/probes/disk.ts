// Disk probe: statfs of a path (what non-root can use, size, inodes), the
// mount's read-only flag, and an optional write test. A hung mount never
// starves the agent: one call per path at a time, cut off by the timeout.
import { open, realpath, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ratio, size } from '../config/fields.js';
import { formatDuration, formatSize } from '../config/durations.js';
import { defineProbe } from './definition.js';
import { mountFor, readMounts } from './mounts.js';
import { fail, timed, whenAborted } from './outcome.js';
import type { Observation, ProbeOutcome } from './types.js';

/** Exact bytes for scripts and grep, the human size beside them for people: "83995492352 bytes (78.2 GiB)". */
const bytes = (n: number) => `${n} bytes (${formatSize(n)})`;

interface DiskFacts {
  avail: number; size: number; inodesFreeRatio: number; readOnly: boolean; mountPoint: string;
  writeError?: NodeJS.ErrnoException;
}

async function gather(path: string, writeTest: boolean): Promise<DiskFacts> {
  const real = await realpath(path);
  const [st, mounts] = await Promise.all([statfs(real), readMounts()]);
  const mount = mountFor(mounts, real);
  const facts: DiskFacts = {
    avail: st.bavail * st.bsize,
    size: st.blocks * st.bsize,
    inodesFreeRatio: st.files > 0 ? st.ffree / st.files : 1,
    readOnly: mount?.readOnly ?? false,
    mountPoint: mount?.mountPoint ?? real,
  };
  if (writeTest) facts.writeError = await tryWrite(real);
  return facts;
}

async function tryWrite(dir: string): Promise<NodeJS.ErrnoException | undefined> {
  const file = join(dir, `.vigil-write-test-${process.pid}`);
  try {
    const fh = await open(file, 'w');
    try {
      await fh.write(`vigil write test ${new Date().toISOString()}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await unlink(file);
    return undefined;
  } catch (err) {
    await unlink(file).catch(() => undefined);
    return err as NodeJS.ErrnoException;
  }
}

export const diskProbe = defineProbe({
  type: 'disk',
  fields: () => ({
    path: z.string().startsWith('/', 'must be an absolute path'),
    min_avail_bytes: size().optional(),
    min_avail_ratio: ratio().optional(),
    min_inodes_free_ratio: ratio().optional(),
    fail_if_readonly: z.boolean().default(true),
    write_test: z.boolean().default(false),
  }),
  create(cfg, deps) {
    const key = `disk:${cfg.path}`;
    const labels = { path: cfg.path };
    return {
      name: cfg.name,
      type: 'disk',
      run: (signal) => timed(async (): Promise<ProbeOutcome> => {
        // A call already outstanding on this path: past our timeout the mount is
        // hung, so fail at once; younger, it is another probe of the same path
        // mid-call, so wait for it (within our timeout) instead of failing or
        // piling a second call on the mount.
        for (let since = deps.singleFlight.outstandingSince(key); since !== undefined; since = deps.singleFlight.outstandingSince(key)) {
          if (Date.now() - since >= cfg.timeoutMs) {
            return fail('timeout', `a filesystem call on ${cfg.path} has not returned for ${formatDuration(Date.now() - since)}; not querying it again until it does`);
          }
          const waited = await Promise.race([deps.singleFlight.settled(key), whenAborted(signal).then(() => 'aborted' as const)]);
          if (waited === 'aborted') return fail('timeout', `a filesystem call on ${cfg.path} did not return within ${formatDuration(cfg.timeoutMs)}`);
        }
        const call = deps.singleFlight.run(key, () => gather(cfg.path, cfg.write_test));
        call.catch(() => undefined); // settled later by the race below or never awaited after a timeout
        const facts = await Promise.race([call, whenAborted(signal).then(() => undefined)]).catch((err: NodeJS.ErrnoException) => err);
        if (facts === undefined) return fail('timeout', `statfs of ${cfg.path} did not return within ${formatDuration(cfg.timeoutMs)}`);
        if (facts instanceof Error) return fail('io_error', `${cfg.path}: ${facts.code ?? ''} ${facts.message}`.trim());

        const observations: Observation[] = [
          { name: 'disk_avail_bytes', value: facts.avail, labels },
          { name: 'disk_size_bytes', value: facts.size, labels },
          { name: 'disk_inodes_free_ratio', value: facts.inodesFreeRatio, labels },
          { name: 'disk_readonly', value: facts.readOnly ? 1 : 0, labels },
        ];
        if (cfg.fail_if_readonly && facts.readOnly) return fail('readonly', `${facts.mountPoint} is mounted read-only`, observations);
        if (facts.writeError) {
          const reason = facts.writeError.code === 'EROFS' ? 'readonly' : 'io_error';
          return fail(reason, `write test in ${cfg.path} failed: ${facts.writeError.code ?? facts.writeError.message}`, observations);
        }
        const ratioAvail = facts.size > 0 ? facts.avail / facts.size : 0;
        if (cfg.min_avail_bytes !== undefined && facts.avail < cfg.min_avail_bytes) {
          return fail('threshold', `${cfg.path}: ${bytes(facts.avail)} available, below min_avail_bytes ${bytes(cfg.min_avail_bytes)}`, observations);
        }
        if (cfg.min_avail_ratio !== undefined && ratioAvail < cfg.min_avail_ratio) {
          return fail('threshold', `${cfg.path}: ${(ratioAvail * 100).toFixed(1)}% available, below min_avail_ratio ${cfg.min_avail_ratio}`, observations);
        }
        if (cfg.min_inodes_free_ratio !== undefined && facts.inodesFreeRatio < cfg.min_inodes_free_ratio) {
          return fail('threshold', `${cfg.path}: ${(facts.inodesFreeRatio * 100).toFixed(1)}% inodes free, below min_inodes_free_ratio ${cfg.min_inodes_free_ratio}`, observations);
        }
        return { ok: true, message: `${cfg.path}: ${bytes(facts.avail)} of ${bytes(facts.size)} available (${(ratioAvail * 100).toFixed(1)}%)`, observations };
      }),
    };
  },
});
