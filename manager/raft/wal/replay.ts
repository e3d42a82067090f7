// Reading the log back at start: every segment in order, cutting a torn or corrupt LAST record
// and refusing to start on damage anywhere else rather than silently drop acknowledged data.
import { join } from "node:path";
import { Entry, HardState } from "../../../proto/gen/raft.js";
import { decodeMarker, RecordType, SEALED, type RecordSealer } from "./record.js";
import { scanSegment, zeroRange, type SegmentName } from "./segment.js";

/** What replay found: the newest hard state, every snapshot marker, and the live log. */
export interface WalState {
  hardState: HardState;
  markers: { index: number; term: number }[];
  /** Entries in index order, after the newest marker's index when one exists. */
  entries: Entry[];
}

export class WalCorruptError extends Error {}

/**
 * A record that passed its checksum but does not open under the member's data key: the key is
 * another one, or the record was changed on purpose. The member stops rather than skip it.
 */
export class WalDecryptError extends WalCorruptError {}

/**
 * Replays `segments` (oldest first); returns the state and where the last segment's records end.
 * With `sealer`, sealed records are opened; clear ones are accepted only before the first sealed
 * one (a log from before encryption was turned on), never after it.
 */
export function replay(dir: string, segments: SegmentName[], log: (line: string) => void, sealer?: RecordSealer): { state: WalState; tail: { validBytes: number; size: number } } {
  let hardState: HardState = { term: 0, vote: 0, commit: 0 };
  const markers: WalState["markers"] = [];
  let entries: Entry[] = [];
  let tail = { validBytes: 0, size: 0 };
  let sawSealed = false;
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
    for (const sealedOrNot of scan.records) {
      const r = open(path, sealedOrNot);
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

  function open(path: string, r: { type: RecordType; payload: Buffer }): { type: RecordType; payload: Buffer } {
    const sealed = SEALED.get(r.type);
    if (!sealed) {
      if (sawSealed && r.type !== RecordType.SnapshotMarker) throw new WalDecryptError(`wal: ${path} holds a record in clear after encrypted ones: the log was changed; restore this member's data dir from a backup`);
      return r;
    }
    sawSealed = true;
    if (!sealer) throw new WalDecryptError(`wal: ${path} is encrypted and no data key was given: start the member with its data key`);
    try {
      return { type: sealed.plain, payload: sealer.decrypt(r.payload, sealed.context) };
    } catch (err) {
      throw new WalDecryptError(`wal: ${path}: ${(err as Error).message}; the member's data key is not the one its log was written with, or the log was changed: restore the data dir and its key file together`);
    }
  }
}
