// A segmented write-ahead log of Raft entries, hard states and snapshot markers. Writes are
// group-committed: every save() issued while a write is under way joins the next one. The segment
// is opened O_DSYNC, so one write call is also the sync (one thread-pool trip, not two), and
// segments are preallocated (segment.ts) so that sync does not have to grow the file.
import { close, closeSync, constants, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, write } from "node:fs";
import { join } from "node:path";
import { Entry, HardState } from "../../../proto/gen/raft.js";
import { encodeMarker, encodeRecords, makeRecord, RecordType, type Record, type RecordSealer } from "./record.js";
import { replay, type WalState } from "./replay.js";
import { parseSegmentName, segmentFileName, zeroFill, type SegmentName } from "./segment.js";

export { WalCorruptError, type WalState } from "./replay.js";

export interface WalOptions {
  /** A segment's preallocated size; a new one is started when the next write would not fit. */
  segmentBytes?: number;
  /** Where recovery reports what it repaired. */
  log?: (line: string) => void;
  /** Encryption at rest: entries and hard states are written sealed, and opened on replay. */
  sealer?: RecordSealer;
}

/** The next segment, zero-filled in the background once the current one is half full. */
const SPARE = "wal-spare.tmp";
const SEGMENT_FLAGS = constants.O_WRONLY | constants.O_DSYNC;
const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

export class Wal {
  private fd = -1;
  /** Where the next record goes in the current segment. */
  private offset = 0;
  private pending: Record[] = [];
  private pendingFirstIndex: number | undefined;
  private hardStateDirty = false;
  private waiters: Waiter[] = [];
  private flushing = false;
  private closed = false;
  private failed?: Error;
  private spare?: Promise<boolean>;
  // Newest queued and newest written state: a new segment's head repeats what is already on disk.
  private queuedLastIndex: number;
  private writtenLastIndex: number;
  private hardState: HardState;
  private writtenHardState: HardState;
  private marker?: { index: number; term: number };
  private writtenMarker?: { index: number; term: number };
  private readonly segmentBytes: number;
  private readonly log: (line: string) => void;
  private readonly sealer?: RecordSealer;

  private constructor(
    private readonly dir: string,
    private readonly segments: SegmentName[],
    state: WalState,
    opts: WalOptions,
  ) {
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.log = opts.log ?? ((line) => console.error(line));
    this.sealer = opts.sealer;
    this.hardState = this.writtenHardState = state.hardState;
    this.marker = this.writtenMarker = state.markers.at(-1);
    this.queuedLastIndex = this.writtenLastIndex = state.entries.at(-1)?.index ?? this.marker?.index ?? 0;
  }

  /** Opens (creating if needed) the WAL in `dir` and replays it. */
  static async open(dir: string, opts: WalOptions = {}): Promise<{ wal: Wal; state: WalState }> {
    mkdirSync(dir, { recursive: true });
    const log = opts.log ?? ((line) => console.error(line));
    const names = readdirSync(dir);
    if (names.includes(SPARE)) unlinkSync(join(dir, SPARE)); // may be half-filled
    const segments = names
      .map(parseSegmentName)
      .filter((s): s is SegmentName => s !== undefined)
      .sort((a, b) => a.seq - b.seq);
    const { state, tail } = replay(dir, segments, log, opts.sealer);
    const wal = new Wal(dir, segments, state, opts);
    if (segments.length === 0) {
      const first = { seq: 1, firstIndex: wal.queuedLastIndex + 1, file: segmentFileName(1, wal.queuedLastIndex + 1) };
      await zeroFill(join(dir, first.file), 0, wal.segmentBytes);
      syncDir(dir);
      segments.push(first);
    } else if (tail.size < wal.segmentBytes) {
      // Written before segments were preallocated, or cut short: give it its full size.
      await zeroFill(join(dir, segments.at(-1)!.file), tail.size, wal.segmentBytes);
    }
    wal.fd = openSync(join(dir, segments.at(-1)!.file), SEGMENT_FLAGS);
    wal.offset = tail.validBytes;
    return { wal, state };
  }

  /**
   * Appends a hard state (if any) and entries; resolves once they are durable. With `sync` false
   * (a hard state whose only change is the commit mark) nothing is written now: the records ride
   * with the next synced write, which is fine because a lost commit mark is learned again.
   */
  save(hardState: HardState | undefined, entries: Entry[], sync = true): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (entries.length > 0) {
      for (const e of entries) this.pending.push(makeRecord(RecordType.Entry, Entry.encode(e).finish(), this.sealer));
      this.pendingFirstIndex = Math.min(this.pendingFirstIndex ?? Infinity, entries[0]!.index);
      this.queuedLastIndex = entries.at(-1)!.index;
    }
    if (hardState) {
      this.hardState = hardState;
      this.hardStateDirty = true;
    }
    return sync ? this.flush() : Promise.resolve();
  }

  /** Records that a snapshot at (index, term) exists; replay starts from the newest marker. */
  saveSnapshotMarker(index: number, term: number): Promise<void> {
    this.marker = { index, term };
    if (this.queuedLastIndex < index) this.queuedLastIndex = index;
    this.pending.push({ type: RecordType.SnapshotMarker, payload: encodeMarker(index, term) });
    return this.flush();
  }

  /** Deletes segments whose live entries are all at or below `snapshotIndex`. */
  releaseTo(snapshotIndex: number): number {
    let released = 0;
    while (this.segments.length > 1 && this.segments[1]!.firstIndex <= snapshotIndex + 1) {
      unlinkSync(join(this.dir, this.segments[0]!.file));
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
    await this.spare;
    closeSync(this.fd);
  }

  private flush(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error("wal: closed"));
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.flushing) void this.flushLoop();
    return p;
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.waiters.length > 0) {
        const waiters = this.waiters;
        this.waiters = [];
        try {
          await this.writeBatch();
          for (const w of waiters) w.resolve();
        } catch (err) {
          // A failed write leaves the file's tail unknown: stop accepting writes for good.
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

  /** Writes everything queued as one durable write, starting a new segment first if it would not fit. */
  private async writeBatch(): Promise<void> {
    if (this.hardStateDirty) {
      this.pending.push(makeRecord(RecordType.HardState, HardState.encode(this.hardState).finish(), this.sealer));
      this.hardStateDirty = false;
    }
    if (this.pending.length === 0) return;
    const records = this.pending;
    const firstIndex = this.pendingFirstIndex ?? this.writtenLastIndex + 1;
    const written = { hardState: this.hardState, marker: this.marker, lastIndex: this.queuedLastIndex };
    this.pending = [];
    this.pendingFirstIndex = undefined;
    let batch = encodeRecords(records);
    let started: SegmentName | undefined;
    if (this.offset > 0 && this.offset + batch.length > this.segmentBytes) {
      started = await this.nextSegment(firstIndex);
      batch = encodeRecords([...this.segmentHead(), ...records]);
    }
    await pwrite(this.fd, batch, this.offset);
    this.offset += batch.length;
    // Only now may older segments be released: the new one's head is durable.
    if (started) this.segments.push(started);
    this.writtenHardState = written.hardState;
    this.writtenMarker = written.marker;
    this.writtenLastIndex = written.lastIndex;
    if (this.offset > this.segmentBytes / 2) this.prepareSpare();
  }

  /** A new segment starts with the snapshot marker and hard state on disk, so older ones can go. */
  private segmentHead(): Record[] {
    const head: Record[] = [];
    if (this.writtenMarker) head.push({ type: RecordType.SnapshotMarker, payload: encodeMarker(this.writtenMarker.index, this.writtenMarker.term) });
    head.push(makeRecord(RecordType.HardState, HardState.encode(this.writtenHardState).finish(), this.sealer));
    return head;
  }

  private async nextSegment(firstIndex: number): Promise<SegmentName> {
    const seq = this.segments.at(-1)!.seq + 1;
    const name = { seq, firstIndex, file: segmentFileName(seq, firstIndex) };
    const path = join(this.dir, name.file);
    const spareReady = this.spare ? await this.spare : false;
    this.spare = undefined;
    if (spareReady) renameSync(join(this.dir, SPARE), path);
    else await zeroFill(path, 0, this.segmentBytes);
    syncDir(this.dir);
    const old = this.fd;
    this.fd = openSync(path, SEGMENT_FLAGS);
    this.offset = 0;
    close(old, () => {});
    return name;
  }

  private prepareSpare(): void {
    if (this.spare || this.closed) return;
    this.spare = zeroFill(join(this.dir, SPARE), 0, this.segmentBytes).then(
      () => true,
      (err: Error) => {
        this.log(`wal: could not prepare the next segment in ${this.dir} (${err.message}); will create it when needed`);
        return false;
      },
    );
  }
}

function pwrite(fd: number, buf: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const from = (off: number): void =>
      write(fd, buf, off, buf.length - off, position + off, (err, n) => {
        if (err) reject(err);
        else if (off + n < buf.length) from(off + n);
        else resolve();
      });
    from(0);
  });
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
