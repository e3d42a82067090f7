// A segmented write-ahead log of Raft entries, hard states and snapshot markers. Appends are
// group-committed: every save() issued while a write+fdatasync is under way joins the next one,
// so concurrent callers share one sync. Recovery cuts a torn or corrupt LAST record, and refuses
// to start on damage anywhere else rather than silently drop acknowledged data.
import { mkdirSync, readdirSync, truncateSync, unlinkSync, openSync, fsyncSync, closeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Entry, HardState } from "../../../proto/gen/raft.js";
import { decodeMarker, encodeMarker, encodeRecord, RecordType } from "./record.js";
import { parseSegmentName, scanSegment, segmentFileName, type SegmentName } from "./segment.js";

export interface WalOptions {
  /** A segment is closed and a new one started once it grows past this. */
  segmentBytes?: number;
  /** Where recovery reports what it repaired. */
  log?: (line: string) => void;
}

/** What replay found: the newest hard state, every snapshot marker, and the live log. */
export interface WalState {
  hardState: HardState;
  markers: { index: number; term: number }[];
  /** Entries in index order, after the newest marker's index when one exists. */
  entries: Entry[];
}

export class WalCorruptError extends Error {}

export class Wal {
  private segments: SegmentName[];
  private file!: FileHandle;
  private fileBytes = 0;
  private pending: Buffer[] = [];
  private waiters: { sync: boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing = false;
  private closed = false;
  private failed?: Error;
  private lastIndex: number;
  private hardState: HardState;
  private lastMarker?: { index: number; term: number };
  private readonly segmentBytes: number;

  private constructor(private readonly dir: string, segments: SegmentName[], state: WalState, opts: WalOptions) {
    this.segments = segments;
    this.segmentBytes = opts.segmentBytes ?? 64 * 1024 * 1024;
    this.hardState = state.hardState;
    this.lastMarker = state.markers.at(-1);
    this.lastIndex = state.entries.at(-1)?.index ?? this.lastMarker?.index ?? 0;
  }

  /** Opens (creating if needed) the WAL in `dir` and replays it. */
  static async open(dir: string, opts: WalOptions = {}): Promise<{ wal: Wal; state: WalState }> {
    mkdirSync(dir, { recursive: true });
    const log = opts.log ?? ((line) => console.error(line));
    const segments = readdirSync(dir)
      .map(parseSegmentName)
      .filter((s): s is SegmentName => s !== undefined)
      .sort((a, b) => a.seq - b.seq);
    const state = replay(dir, segments, log);
    const wal = new Wal(dir, segments, state, opts);
    if (segments.length === 0) await wal.startSegment(1, state.entries.at(-1)?.index ?? 0);
    else {
      const last = segments.at(-1)!;
      wal.file = await open(join(dir, last.file), "a");
      wal.fileBytes = (await wal.file.stat()).size;
    }
    return { wal, state };
  }

  /** Appends a hard state (if any) and entries; resolves once durable when `sync` is true. */
  save(hardState: HardState | undefined, entries: Entry[], sync = true): Promise<void> {
    for (const e of entries) {
      this.pending.push(encodeRecord(RecordType.Entry, Entry.encode(e).finish()));
      this.lastIndex = e.index;
    }
    if (hardState) {
      this.hardState = hardState;
      this.pending.push(encodeRecord(RecordType.HardState, HardState.encode(hardState).finish()));
    }
    return this.flush(sync);
  }

  /** Records that a snapshot at (index, term) exists; replay starts from the newest marker. */
  saveSnapshotMarker(index: number, term: number): Promise<void> {
    this.lastMarker = { index, term };
    if (this.lastIndex < index) this.lastIndex = index;
    this.pending.push(encodeRecord(RecordType.SnapshotMarker, encodeMarker(index, term)));
    return this.flush();
  }

  /** Deletes segments whose live entries are all at or below `snapshotIndex`. */
  releaseTo(snapshotIndex: number): number {
    let released = 0;
    while (this.segments.length > 1 && this.segments[1].firstIndex <= snapshotIndex + 1) {
      unlinkSync(join(this.dir, this.segments[0].file));
      this.segments.shift();
      released++;
    }
    if (released > 0) syncDir(this.dir);
    return released;
  }

  segmentCount(): number {
    return this.segments.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush().catch(() => {});
    this.closed = true;
    await this.file.close();
  }

  /** Writes what is pending; with `sync`, resolves only once it is on stable storage. */
  private flush(sync = true): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error("wal: closed"));
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ sync, resolve, reject }));
    if (!this.flushing) void this.flushLoop();
    return p;
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.waiters.length > 0) {
        const batch = Buffer.concat(this.pending);
        const waiters = this.waiters;
        this.pending = [];
        this.waiters = [];
        try {
          if (batch.length > 0) {
            await writeAll(this.file, batch);
            this.fileBytes += batch.length;
          }
          if (waiters.some((w) => w.sync)) await this.file.datasync();
          if (this.fileBytes >= this.segmentBytes) await this.rollover();
          for (const w of waiters) w.resolve();
        } catch (err) {
          // A failed write or sync leaves the file's tail unknown: stop accepting writes for good.
          this.failed = new Error(`wal: write to ${this.dir} failed (${(err as Error).message}); restart the member to recover from the log`);
          for (const w of [...waiters, ...this.waiters]) w.reject(this.failed);
          this.waiters = [];
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  // A new segment begins with the current hard state and snapshot marker so older segments can
  // be released without losing them.
  private async rollover(): Promise<void> {
    await this.file.datasync();
    await this.file.close();
    const seq = (this.segments.at(-1)?.seq ?? 0) + 1;
    await this.startSegment(seq, this.lastIndex + 1);
    const head: Buffer[] = [];
    if (this.lastMarker) head.push(encodeRecord(RecordType.SnapshotMarker, encodeMarker(this.lastMarker.index, this.lastMarker.term)));
    head.push(encodeRecord(RecordType.HardState, HardState.encode(this.hardState).finish()));
    const buf = Buffer.concat(head);
    await writeAll(this.file, buf);
    this.fileBytes = buf.length;
    await this.file.datasync();
  }

  private async startSegment(seq: number, firstIndex: number): Promise<void> {
    const name = { seq, firstIndex, file: segmentFileName(seq, firstIndex) };
    this.file = await open(join(this.dir, name.file), "a");
    this.fileBytes = 0;
    this.segments.push(name);
    syncDir(this.dir);
  }
}

function replay(dir: string, segments: SegmentName[], log: (line: string) => void): WalState {
  let hardState: HardState = { term: 0, vote: 0, commit: 0 };
  const markers: WalState["markers"] = [];
  let entries: Entry[] = [];
  segments.forEach((seg, i) => {
    const path = join(dir, seg.file);
    const scan = scanSegment(path);
    if (scan.damage) {
      const d = scan.damage;
      const isLast = i === segments.length - 1;
      if (!isLast || d.validRecordAfter >= 0) {
        const where = d.validRecordAfter >= 0 ? `valid records follow at offset ${d.validRecordAfter}` : "later segments follow";
        throw new WalCorruptError(
          `wal: ${path} is corrupt at offset ${d.offset} (${d.why}) and ${where}; restore this member's data dir from a backup or remove the member and re-add it empty`,
        );
      }
      log(`wal: ${path}: cut damaged last record at offset ${d.offset} (${d.why}); ${scan.size - d.offset} bytes dropped`);
      truncateSync(path, d.offset);
    }
    for (const r of scan.records) {
      if (r.type === RecordType.HardState) hardState = HardState.decode(r.payload);
      else if (r.type === RecordType.SnapshotMarker) {
        const m = decodeMarker(r.payload);
        markers.push(m);
        // Entries at or below the snapshot live in the snapshot; a gap means the log restarts there.
        entries = entries.filter((e) => e.index > m.index);
        if (entries.length > 0 && entries[0].index !== m.index + 1) entries = [];
      } else {
        const e = Entry.decode(r.payload);
        const first = entries[0]?.index;
        if (first !== undefined && e.index <= entries.at(-1)!.index) {
          // A newer leader overwrote the tail: drop the conflicting suffix.
          entries.length = Math.max(0, e.index - first);
        } else if (first !== undefined && e.index !== entries.at(-1)!.index + 1) {
          throw new WalCorruptError(`wal: ${path} has a gap before entry ${e.index} (last was ${entries.at(-1)!.index}); restore this member's data dir from a backup`);
        }
        entries.push(e);
      }
    }
  });
  return { hardState, markers, entries };
}

async function writeAll(file: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await file.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
