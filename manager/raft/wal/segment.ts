// Reading one segment file at open: valid records in order, and where (and why) reading stopped.
import { readFileSync } from "node:fs";
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
  /** Bytes of valid records; equals the file size when nothing is wrong. */
  validBytes: number;
  size: number;
  /** Why reading stopped before the end, and whether any valid record follows that point. */
  damage?: { offset: number; why: string; validRecordAfter: number };
}

export function scanSegment(path: string): SegmentScan {
  const buf = readFileSync(path);
  const records: SegmentScan["records"] = [];
  let off = 0;
  while (off < buf.length) {
    const r = decodeRecord(buf, off);
    if (!r.ok) {
      return { records, validBytes: off, size: buf.length, damage: { offset: off, why: r.why, validRecordAfter: findValidRecord(buf, off + 1) } };
    }
    records.push({ type: r.type, payload: r.payload });
    off = r.end;
  }
  return { records, validBytes: off, size: buf.length };
}
