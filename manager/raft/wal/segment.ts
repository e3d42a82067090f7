// Segment files: their names, reading one at open, and creating them preallocated. A segment is
// zero-filled to its full size when created, so appends overwrite blocks that already exist and a
// sync need not also commit a new file size to the journal (on ext4 that halves a sync or better).
// The zeros after the last record are therefore the normal end of a segment, not damage.
import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { decodeRecord, findValidRecord, RecordType } from "./record.js";

export interface SegmentName {
  seq: number;
  /** Index the next entry was expected to have when the segment was created. */
  firstIndex: number;
  file: string;
}

const NAME = /^wal-([0-9a-f]{16})-([0-9a-f]{16})\.log$/;

export function segmentFileName(seq: number, firstIndex: number): string {
  return `wal-${seq.toString(16).padStart(16, "0")}-${firstIndex.toString(16).padStart(16, "0")}.log`;
}

export function parseSegmentName(file: string): SegmentName | undefined {
  const m = NAME.exec(file);
  return m ? { seq: parseInt(m[1], 16), firstIndex: parseInt(m[2], 16), file } : undefined;
}

export interface SegmentScan {
  records: { type: RecordType; payload: Buffer }[];
  /** Where the valid records end: the next record goes here. */
  validBytes: number;
  size: number;
  /** Why reading stopped before the zero-filled end, and whether any valid record follows that point. */
  damage?: { offset: number; why: string; validRecordAfter: number; dirtyBytes: number };
}

export function scanSegment(path: string): SegmentScan {
  const buf = readFileSync(path);
  const records: SegmentScan["records"] = [];
  let off = 0;
  while (off < buf.length) {
    const r = decodeRecord(buf, off);
    if (!r.ok) {
      const dirtyEnd = lastNonZero(buf, off) + 1;
      if (dirtyEnd <= off) break; // only preallocated zeros follow: a clean end
      const damage = { offset: off, why: r.why, validRecordAfter: findValidRecord(buf, off + 1), dirtyBytes: dirtyEnd - off };
      return { records, validBytes: off, size: buf.length, damage };
    }
    records.push({ type: r.type, payload: r.payload });
    off = r.end;
  }
  return { records, validBytes: off, size: buf.length };
}

const ZEROS = Buffer.alloc(1024 * 1024);

/** Index of the last non-zero byte at or after `from`, or from-1 if all are zero. */
function lastNonZero(buf: Buffer, from: number): number {
  let end = buf.length;
  while (end > from) {
    const start = Math.max(from, end - ZEROS.length);
    if (buf.subarray(start, end).equals(ZEROS.subarray(0, end - start))) {
      end = start;
      continue;
    }
    for (let i = end - 1; i >= start; i--) if (buf[i] !== 0) return i;
  }
  return from - 1;
}

/** Overwrites [from, from+length) with zeros and syncs: how a damaged tail is cut in a preallocated file. */
export function zeroRange(path: string, from: number, length: number): void {
  const fd = openSync(path, "r+");
  try {
    for (let off = 0; off < length; ) off += writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, length - off), from + off);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes zeros from `from` up to `size` bytes and syncs, so the blocks exist before the log needs them. */
export async function zeroFill(path: string, from: number, size: number): Promise<void> {
  const f = await open(path, from === 0 ? "w" : "r+");
  try {
    for (let off = from; off < size; ) {
      const { bytesWritten } = await f.write(ZEROS, 0, Math.min(ZEROS.length, size - off), off);
      off += bytesWritten;
    }
    await f.datasync();
  } finally {
    await f.close();
  }
}
