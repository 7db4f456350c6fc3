// Files the agent (often root) writes under state_dir. Anyone who can plant a
// symlink there could make the agent truncate or overwrite a file of their
// choosing, and anyone who can write there can forge the journal. So:
//   - state_dir is created 0700; an existing one must be a real directory,
//     owned by this user, and not writable by group or others;
//   - files are opened without following a final symlink (O_NOFOLLOW), and
//     temporary files are created only where nothing exists (O_EXCL), after
//     removing whatever name was there (unlink removes a link, not its target).
import { constants } from 'node:fs';
import { lstat, mkdir, open, unlink, type FileHandle } from 'node:fs/promises';

export class UnsafeStateError extends Error {
  readonly code = 'VIGIL_E_STATE_DIR_UNSAFE';
}

/** Creates `dir` (0700) or checks an existing one; throws UnsafeStateError saying what to fix. */
export async function ensureStateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (st.isSymbolicLink()) throw new UnsafeStateError(`${dir} is a symbolic link; point agent.state_dir at the real directory`);
  if (!st.isDirectory()) throw new UnsafeStateError(`${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new UnsafeStateError(`${dir} is owned by uid ${st.uid}, not by the agent's user (uid ${uid}); chown it`);
  if ((st.mode & 0o022) !== 0) {
    throw new UnsafeStateError(`${dir} is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'} (mode ${(st.mode & 0o777).toString(8)}); others could plant links or forge the journal: chmod 700 ${dir}`);
  }
}

/** Opens an existing or new file for appending, refusing a symlink in its place. */
export async function openAppendNoFollow(path: string): Promise<FileHandle> {
  return noLink(path, () => open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600));
}

/** Opens a file for reading, refusing a symlink; ENOENT passes through. */
export async function openReadNoFollow(path: string): Promise<FileHandle> {
  return noLink(path, () => open(path, constants.O_RDONLY | constants.O_NOFOLLOW));
}

/** Creates a fresh file (0600) where `path` is, after removing whatever name was there. */
export async function createFresh(path: string): Promise<FileHandle> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
  return open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
}

async function noLink(path: string, fn: () => Promise<FileHandle>): Promise<FileHandle> {
  try {
    return await fn();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new UnsafeStateError(`${path} is a symbolic link; vigil does not follow links in its state directory: remove it`);
    throw err;
  }
}
