// One member's disk: what is synced survives a crash; writes since the last sync survive only
// as a prefix, of random length (a torn write tail), like a WAL whose fsync never happened.
import type { Entry, HardState, Snapshot } from "../../../proto/gen/raft.js";
import type { Prng } from "./prng.js";

type Write = { hardState: HardState } | { entries: Entry[] } | { snapshot: Snapshot };

export class Disk {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  private unsynced: Write[] = [];

  write(w: Write): void {
    this.unsynced.push(w);
  }

  sync(): void {
    for (const w of this.unsynced) this.commit(w);
    this.unsynced = [];
  }

  /** A power cut: keeps a random prefix of the unsynced writes. */
  crash(rng: Prng): void {
    const keep = rng.int(0, this.unsynced.length);
    for (const w of this.unsynced.slice(0, keep)) this.commit(w);
    this.unsynced = [];
  }

  private commit(w: Write): void {
    if ("hardState" in w) this.hardState = w.hardState;
    else if ("snapshot" in w) {
      this.snapshot = w.snapshot;
      // A received snapshot replaces the log.
      this.entries = [];
    } else if (w.entries.length > 0) {
      const first = w.entries[0]!.index;
      const base = this.entries.length > 0 ? this.entries[0]!.index : first;
      if (first > base + this.entries.length) throw new Error(`sim disk: gap before entry ${first}`);
      if (first < base) this.entries = [];
      else this.entries = this.entries.slice(0, first - base);
      this.entries.push(...w.entries);
    }
  }

  /** Whether the synced state holds entry (index, term), in the log or inside the snapshot. */
  holds(index: number, term: number): boolean {
    if (this.snapshot && this.snapshot.metadata!.index >= index) return true;
    const base = this.entries[0]?.index;
    return base !== undefined && this.entries[index - base]?.term === term;
  }

  /** Saves a snapshot the application made; it is synced at once and later log entries stay. */
  saveOwnSnapshot(s: Snapshot): void {
    this.sync();
    if (!this.snapshot || this.snapshot.metadata!.index < s.metadata!.index) this.snapshot = s;
    const idx = s.metadata!.index;
    this.entries = this.entries.filter((e) => e.index > idx);
  }
}
