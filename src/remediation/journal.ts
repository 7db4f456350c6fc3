// The remediation journal: append-only JSON lines in state_dir, each record
// fsynced before append() resolves, so an intent is on disk before its action
// runs. Bounded: past max_bytes it is compacted to the records replay still
// needs, and the previous file is kept as `<name>.1`.
import { open, rename, stat, unlink, link, type FileHandle } from 'node:fs/promises';
import { createFresh, ensureStateDir, openAppendNoFollow, openReadNoFollow } from '../state/safe-files.js';
import { dirname, join } from 'node:path';
import { JOURNAL_VERSION, parseJournal, type JournalEntry, type JournalProblem, type JournalRecord } from './journal-format.js';

export const JOURNAL_FILE = 'remediation-journal.jsonl';
/** How many of the newest records /status shows. */
export const RECENT_KEPT = 20;

export interface JournalOptions {
  readonly dir: string;
  readonly maxBytes: number;
  /** Which records a compaction keeps (replay.ts decides). */
  readonly keep: (records: readonly JournalRecord[], now: number) => JournalRecord[];
  readonly now?: () => number;
  /** Called for every problem found or met (torn line, failed write…). */
  readonly onProblem?: (p: JournalProblem) => void;
}

export class Journal {
  readonly path: string;
  private fh: FileHandle | undefined;
  private size = 0;
  /** Size right after the last compaction: if what must be kept is itself large, do not compact on every write. */
  private floor = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  readonly problems: JournalProblem[] = [];
  rotations = 0;
  /** The newest records, for /status and the status page (the file is not re-read for them). */
  private readonly latest: JournalRecord[] = [];

  constructor(private readonly opts: JournalOptions) {
    this.path = join(opts.dir, JOURNAL_FILE);
    this.now = opts.now ?? Date.now;
  }

  /** Creates the directory, reads what is there (repairing a torn tail) and opens for appending. */
  async open(): Promise<JournalRecord[]> {
    await ensureStateDir(this.opts.dir);
    const text = await this.readJournal();
    const parsed = parseJournal(text, this.now());
    for (const p of parsed.problems) this.report(p);
    for (const r of parsed.records.slice(-RECENT_KEPT)) this.latest.push(r);
    const fullLength = Buffer.byteLength(text);
    this.fh = await openAppendNoFollow(this.path);
    if (parsed.goodLength < fullLength) await this.fh.truncate(parsed.goodLength);
    this.size = parsed.goodLength;
    // A last record that lost only its newline: finish the line before appending after it.
    if (parsed.goodLength > 0 && !text.slice(0, parsed.goodLength).endsWith('\n')) {
      await this.fh.write('\n');
      await this.fh.sync();
      this.size += 1;
    }
    return parsed.records;
  }

  /** Appends one record and fsyncs it; resolves with the record as written. Appends are serialised. */
  append(entry: JournalEntry): Promise<JournalRecord> {
    const run = this.tail.then(() => this.write(entry));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async write(entry: JournalEntry): Promise<JournalRecord> {
    if (!this.fh) throw new Error('journal is not open');
    const ts = this.now();
    const record = { v: JOURNAL_VERSION, time: new Date(ts).toISOString(), ts, ...entry } as JournalRecord;
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    try {
      await this.writeWhole(line);
      await this.fh.sync();
    } catch (err) {
      // Whatever part of the line reached the file must not stay: the next start would cut a
      // torn line and forget the intent (and act again inside its cooldown).
      await this.fh.truncate(this.size).then(() => this.fh?.sync()).catch(() => undefined);
      this.report({ kind: 'write_failed', detail: `cannot write ${this.path}: ${(err as Error).message}`, time: new Date(ts).toISOString() });
      throw err;
    }
    this.size += line.length;
    this.latest.push(record);
    if (this.latest.length > RECENT_KEPT) this.latest.shift();
    if (this.size > Math.max(this.opts.maxBytes, this.floor * 2)) await this.compact().catch((err: Error) => {
      this.report({ kind: 'rotate_failed', detail: `cannot compact ${this.path}: ${err.message}`, time: new Date(this.now()).toISOString() });
    });
    return record;
  }

  /**
   * The whole line or an error: a regular file's write returns short when
   * the disk fills up mid-line, and the rest then fails with ENOSPC.
   */
  private async writeWhole(line: Buffer): Promise<void> {
    let done = 0;
    while (done < line.length) {
      const { bytesWritten } = await this.fh!.write(line, done, line.length - done, null);
      if (bytesWritten <= 0) throw new Error(`short write: ${done} of ${line.length} bytes (disk full?)`);
      done += bytesWritten;
    }
  }

  /**
   * Rewrites the journal with only the records replay still needs. The old
   * file is hard-linked to `.1` first and the new one renamed over it, so a
   * crash at any point leaves a complete journal in place.
   */
  /** The journal's text ('' when there is none yet), never through a link. */
  private async readJournal(): Promise<string> {
    let fh: FileHandle;
    try {
      fh = await openReadNoFollow(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
    try { return await fh.readFile('utf8'); } finally { await fh.close(); }
  }

  private async compact(): Promise<void> {
    const text = await this.readJournal();
    const kept = this.opts.keep(parseJournal(text, this.now()).records, this.now());
    const body = kept.map((r) => `${JSON.stringify(r)}\n`).join('');
    const tmp = `${this.path}.tmp`;
    const out = await createFresh(tmp);
    try {
      await out.write(body);
      await out.sync();
    } finally {
      await out.close();
    }
    const old = `${this.path}.1`;
    await unlink(old).catch(() => undefined);
    await link(this.path, old);
    await rename(tmp, this.path);
    await syncDir(dirname(this.path));
    await this.fh?.close();
    this.fh = await openAppendNoFollow(this.path);
    this.size = (await stat(this.path)).size;
    this.floor = this.size;
    this.rotations += 1;
  }

  /** The newest records, newest first (at most RECENT_KEPT). */
  recent(): readonly JournalRecord[] {
    return [...this.latest].reverse();
  }

  get sizeBytes(): number {
    return this.size;
  }

  private report(p: JournalProblem): void {
    this.problems.push(p);
    if (this.problems.length > 20) this.problems.shift();
    this.opts.onProblem?.(p);
  }

  async close(): Promise<void> {
    await this.tail;
    await this.fh?.close();
    this.fh = undefined;
  }
}

/** A rename is only durable once the directory entry is. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}
