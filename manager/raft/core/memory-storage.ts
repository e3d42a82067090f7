// The stable log in memory (etcd's MemoryStorage). The driver loads the WAL into it at start and
// appends each persisted Ready; the core reads it. ents[0] is a dummy at the snapshot's index,
// holding its term, so term(firstIndex-1) always answers.
import type { ConfState, Entry, HardState, Snapshot } from "../../../proto/gen/raft.js";
import { EntryType } from "../../../proto/gen/raft.js";
import { CompactedError, SnapshotOutOfDateError, UnavailableError, type LogStorage } from "./api.js";
import { EMPTY_BYTES, limitSize } from "./entries.js";

export class MemoryStorage implements LogStorage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = { data: EMPTY_BYTES, metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } } };
  private ents: Entry[] = [dummy(0, 0)];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata!.confState ?? { voters: [], learners: [] } };
  }

  setHardState(hs: HardState): void {
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    if (lo >= hi) return [];
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new CompactedError(i);
    if (i - offset >= this.ents.length) throw new UnavailableError(i);
    return this.ents[i - offset]!.term;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot received from the leader (or loaded at start). */
  applySnapshot(snap: Snapshot): void {
    const meta = snap.metadata!;
    if (meta.index <= this.snap.metadata!.index) throw new SnapshotOutOfDateError();
    this.snap = snap;
    this.ents = [dummy(meta.index, meta.term)];
  }

  /** Records the application's state at `index` (≤ lastIndex) as the snapshot to send laggards. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata!.index) throw new SnapshotOutOfDateError();
    if (index > this.lastIndex()) throw new Error(`raft: snapshot index ${index} is beyond the last log index ${this.lastIndex()}`);
    const offset = this.ents[0]!.index;
    this.snap = {
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      metadata: { index, term: this.ents[index - offset]!.term, confState: { voters: [...confState.voters], learners: [...confState.learners] } },
    };
    return this.snap;
  }

  /** Drops entries before `index`; it must not pass the snapshot, or laggards could not catch up. */
  compact(index: number): void {
    const offset = this.ents[0]!.index;
    if (index <= offset) throw new CompactedError(index);
    if (index > this.lastIndex()) throw new Error(`raft: cannot compact to ${index}, past the last log index ${this.lastIndex()}`);
    if (index > this.snap.metadata!.index) throw new Error(`raft: cannot compact to ${index}, past the snapshot at ${this.snap.metadata!.index}; create a snapshot first`);
    const keep = this.ents.slice(index - offset);
    keep[0] = dummy(index, keep[0]!.term);
    this.ents = keep;
  }

  /** Appends persisted entries, replacing any conflicting suffix; entries already compacted are skipped. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[entries.length - 1]!.index;
    if (last < first) return;
    if (first > entries[0]!.index) entries = entries.slice(first - entries[0]!.index);
    const offset = entries[0]!.index - this.ents[0]!.index;
    if (offset > this.ents.length) throw new Error(`raft: missing log entry: last index ${this.lastIndex()}, appending at ${entries[0]!.index}`);
    this.ents = this.ents.slice(0, offset).concat(entries);
  }
}

function dummy(index: number, term: number): Entry {
  return { index, term, type: EntryType.ENTRY_NORMAL, data: EMPTY_BYTES };
}
