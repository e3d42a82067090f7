// A simulated member: the same duties as the node driver (persist, sync, send, apply, advance, in
// its order, with writes that may stay in flight) over an in-memory disk, with a KV state
// machine, crashes, restarts and local snapshots.
import { ConfChange, EntryType, type ConfState, type Entry, type Message, type Snapshot } from "../../../proto/gen/raft.js";
import { MemoryStorage, RawNode, type Ready, type ReadState } from "../../../manager/raft/core/index.js";
import { Disk } from "./disk.js";
import type { Prng } from "./prng.js";

export interface Hooks {
  /** Called for every applied entry (also re-applies after restart). */
  onApply(m: SimMember, e: Entry): void;
  onReadState(m: SimMember, rs: ReadState): void;
  send(msgs: Message[]): void;
}

export interface SimConfig {
  electionTick: number;
  heartbeatTick: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  snapshotEvery: number;
  keepAfterSnapshot: number;
}

export class SimMember {
  readonly disk = new Disk();
  alive = true;
  node!: RawNode;
  storage!: MemoryStorage;
  kv = new Map<string, string>();
  applied = 0;
  confState: ConfState = { voters: [], learners: [] };
  snapshotIndex = 0;
  /** Commit index seen by this incarnation: must never go back while it lives. */
  lastCommit = 0;
  incarnation = 0;
  /** A non-leader Ready whose writes are under way (its messages wait for them). */
  private inFlight: Ready | undefined;
  /** A leader's writes handed to the disk whose landing the core has not been told of. */
  private leaderWrites = 0;

  constructor(readonly id: number, private readonly cfg: SimConfig, private readonly rng: Prng, private readonly hooks: Hooks, bootstrap?: ConfState) {
    if (bootstrap) {
      const snap: Snapshot = { data: encodeKv(new Map()), metadata: { index: 1, term: 1, confState: bootstrap } };
      this.disk.saveOwnSnapshot(snap);
      this.disk.write({ hardState: { term: 1, vote: 0, commit: 1 } });
      this.disk.sync();
    }
    this.start();
  }

  /** (Re)builds the in-memory state from disk, as the driver does at start. */
  start(): void {
    this.incarnation++;
    this.alive = true;
    this.inFlight = undefined;
    this.leaderWrites = 0;
    this.storage = new MemoryStorage();
    this.kv = new Map();
    this.applied = 0;
    this.confState = { voters: [], learners: [] };
    const snap = this.disk.snapshot;
    let hs = this.disk.hardState;
    if (snap) {
      this.storage.applySnapshot(snap);
      this.restoreSnapshot(snap);
      // The commit mark is written without fsync and may be older than our own snapshot.
      if (hs.commit < snap.metadata!.index) hs = { ...hs, term: Math.max(hs.term, snap.metadata!.term), commit: snap.metadata!.index };
    }
    const after = snap?.metadata?.index ?? 0;
    const ents = this.disk.entries.filter((e) => e.index > after);
    this.storage.append(ents);
    // Entries lost in the crash may be what the commit mark pointed into.
    if (hs.commit > this.storage.lastIndex()) throw new Error(`member ${this.id}: synced commit ${hs.commit} beyond synced log ${this.storage.lastIndex()}`);
    this.storage.setHardState(hs);
    this.lastCommit = hs.commit;
    this.node = new RawNode({
      id: this.id,
      electionTick: this.cfg.electionTick,
      heartbeatTick: this.cfg.heartbeatTick,
      storage: this.storage,
      applied: this.applied,
      maxSizePerMsg: this.cfg.maxSizePerMsg,
      maxInflightMsgs: this.cfg.maxInflightMsgs,
      preVote: true,
      checkQuorum: true,
      random: () => this.rng.next(),
    });
  }

  crash(): void {
    this.alive = false;
    this.inFlight = undefined;
    this.leaderWrites = 0;
    this.disk.crash(this.rng);
  }

  private restoreSnapshot(s: Snapshot): void {
    this.kv = decodeKv(s.data);
    this.confState = s.metadata!.confState!;
    this.applied = s.metadata!.index;
    this.snapshotIndex = s.metadata!.index;
  }

  /**
   * Handles pending Readys as the node driver does. A leader's Ready sends and applies at once
   * and hands its writes to the disk to land later (advance(false), then persisted()); anyone
   * else's waits for its writes. `crashMidway` cuts power after a Ready's writes are issued but
   * before their sync; `slowDisk` leaves the writes in flight, to land in a later step
   * (completeWrite), while the node keeps stepping messages meanwhile.
   */
  process(crashMidway: () => boolean, slowDisk: () => boolean = () => false): void {
    while (this.alive && !this.inFlight && this.node.hasReady()) {
      const rd = this.node.ready();
      if (rd.snapshot) this.disk.write({ snapshot: rd.snapshot });
      // Entries before the hard state, so a torn tail never leaves a commit mark past the log.
      if (rd.entries.length > 0) this.disk.write({ entries: rd.entries });
      if (rd.hardState) this.disk.write({ hardState: rd.hardState });
      if (rd.messagesBeforePersist) {
        this.hooks.send(rd.messages);
        for (const e of rd.committedEntries) this.apply(e);
        for (const rs of rd.readStates) this.hooks.onReadState(this, rs);
        if (rd.entries.length > 0) this.storage.append(rd.entries);
        if (rd.hardState) this.storage.setHardState(rd.hardState);
        this.node.advance(false);
        if (rd.entries.length > 0) this.leaderWrites++;
        if (crashMidway()) {
          this.crash();
          return;
        }
        if (!slowDisk()) this.landLeaderWrites();
        this.maybeSnapshot();
        continue;
      }
      this.inFlight = rd;
      if (crashMidway()) {
        this.crash();
        return;
      }
      if (slowDisk()) return;
      this.completeWrite();
    }
  }

  /** The writes under way are durable now: the rest of the Ready's duties, then advance. */
  completeWrite(): void {
    if (!this.alive) return;
    const rd = this.inFlight;
    if (!rd) {
      this.landLeaderWrites();
      return;
    }
    this.inFlight = undefined;
    // The log is FIFO: this write landing means a leader's earlier ones did too.
    this.disk.sync();
    this.leaderWrites = 0;
    if (rd.snapshot) this.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    this.hooks.send(rd.messages);
    if (rd.snapshot) this.restoreSnapshot(rd.snapshot);
    for (const e of rd.committedEntries) this.apply(e);
    for (const rs of rd.readStates) this.hooks.onReadState(this, rs);
    this.node.advance();
    this.maybeSnapshot();
  }

  private landLeaderWrites(): void {
    if (this.leaderWrites === 0) return;
    this.disk.sync();
    for (; this.leaderWrites > 0; this.leaderWrites--) this.node.persisted();
  }

  get writing(): boolean {
    return this.inFlight !== undefined || this.leaderWrites > 0;
  }

  private apply(e: Entry): void {
    if (e.index <= this.applied) return;
    if (e.index !== this.applied + 1) throw new Error(`member ${this.id}: applied ${e.index} after ${this.applied}`);
    this.applied = e.index;
    if (e.type === EntryType.ENTRY_CONF_CHANGE) {
      this.confState = this.node.applyConfChange(ConfChange.decode(e.data));
    } else if (e.data.length > 0) {
      const [, key, value] = e.data.toString().split("|");
      this.kv.set(key!, value!);
    }
    this.hooks.onApply(this, e);
  }

  private maybeSnapshot(): void {
    if (this.applied - this.snapshotIndex < this.cfg.snapshotEvery) return;
    const snap = this.storage.createSnapshot(this.applied, this.confState, encodeKv(this.kv));
    this.disk.saveOwnSnapshot(snap); // syncs, as the driver's snapshot marker waits for earlier writes
    this.landLeaderWrites();
    this.snapshotIndex = this.applied;
    const compactTo = this.applied - this.cfg.keepAfterSnapshot;
    if (compactTo > this.storage.firstIndex()) this.storage.compact(compactTo);
  }
}

function encodeKv(kv: Map<string, string>): Buffer {
  return Buffer.from(JSON.stringify([...kv]));
}

function decodeKv(b: Uint8Array): Map<string, string> {
  if (b.length === 0) return new Map();
  return new Map(JSON.parse(Buffer.from(b).toString()) as [string, string][]);
}
