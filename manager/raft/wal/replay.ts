// Reading the log back at start: every segment in order, cutting a torn or corrupt LAST record
// and refusing to start on damage anywhere else rather than silently drop acknowledged data.
import { join } from "node:path";
import { Entry, HardState } from "../../../proto/gen/raft.js";
import { decodeMarker, RecordType } from "./record.js";
import { scanSegment, zeroRange, type SegmentName } from "./segment.js";

/** What replay found: the newest hard state, every snapshot marker, and the live log. */
export interface WalState {
  hardState: HardState;
  markers: { index: number; term: number }[];
  /** Entries in index order, after the newest marker's index when one exists. */
  entries: Entry[];
}

export class WalCorruptError extends Error {}

/** Replays `segments` (oldest first); returns the state and where the last segment's records end. */
export function replay(dir: string, segments: SegmentName[], log: (line: string) => void): { state: WalState; tail: { validBytes: number; size: number } } {
  let hardState: HardState = { term: 0, vote: 0, commit: 0 };
  const markers: WalState["markers"] = [];
  let entries: Entry[] = [];
  let tail = { validBytes: 0, size: 0 };
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
      log(`wal: ${path}: cut damaged last record at offset ${d.offset} (${d.why}); ${d.dirtyBytes} bytes dropped`);
      zeroRange(path, d.offset, d.dirtyBytes);
    }
    tail = { validBytes: scan.validBytes, size: scan.size };
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
  return { state: { hardState, markers, entries }, tail };
}
