// A stand-in for the real core in driver tests: one voter that leads at once and commits what
// it has persisted. Enough to exercise the driver's persist/apply/restart paths, nothing more.
import { Role, type RaftConfig, type Ready, type Status } from "../../../manager/raft/core/api.js";
import type { CoreModule, CoreStorage, RaftCore } from "../../../manager/raft/node.js";
import { EntryType, type ConfChange, type ConfState, type Entry, type HardState, type Message, type Snapshot } from "../../../proto/gen/raft.js";

class ArrayStorage implements CoreStorage {
  hs: HardState = { term: 0, vote: 0, commit: 0 };
  snap: Snapshot = { data: Buffer.alloc(0), metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } } };
  ents: Entry[] = [];
  initialState() {
    return { hardState: this.hs, confState: this.snap.metadata!.confState! };
  }
  entries(lo: number, hi: number): Entry[] {
    return this.ents.filter((e) => e.index >= lo && e.index < hi);
  }
  term(i: number): number {
    return i === this.snap.metadata!.index ? this.snap.metadata!.term : this.ents.find((e) => e.index === i)!.term;
  }
  firstIndex(): number {
    return this.ents[0]?.index ?? this.snap.metadata!.index + 1;
  }
  lastIndex(): number {
    return this.ents.at(-1)?.index ?? this.snap.metadata!.index;
  }
  snapshot(): Snapshot {
    return this.snap;
  }
  append(entries: Entry[]): void {
    for (const e of entries) {
      this.ents = this.ents.filter((x) => x.index < e.index);
      this.ents.push(e);
    }
  }
  setHardState(hs: HardState): void {
    this.hs = hs;
  }
  applySnapshot(snap: Snapshot): void {
    this.snap = snap;
    this.ents = this.ents.filter((e) => e.index > snap.metadata!.index);
  }
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    this.snap = { data: Buffer.from(data), metadata: { index, term: this.term(index), confState } };
    return this.snap;
  }
  compact(index: number): void {
    this.ents = this.ents.filter((e) => e.index >= index);
  }
}

class SingleVoter implements RaftCore {
  private readonly storage: CoreStorage;
  private term: number;
  private commit: number;
  private applied: number;
  private unstable: Entry[] = [];
  private reads: { index: number; context: Uint8Array }[] = [];
  private softPending = true;
  private hsPending = true;
  private confState: ConfState;

  constructor(cfg: RaftConfig) {
    this.id = cfg.id;
    this.storage = cfg.storage as CoreStorage;
    const { hardState, confState } = cfg.storage.initialState();
    this.confState = confState;
    this.term = hardState.term + 1;
    this.commit = hardState.commit;
    this.applied = cfg.applied ?? 0;
    this.append(Buffer.alloc(0));
  }
  private readonly id: number;
  private append(data: Uint8Array, type = EntryType.ENTRY_NORMAL): void {
    const index = (this.unstable.at(-1)?.index ?? this.storage.lastIndex()) + 1;
    this.unstable.push({ term: this.term, index, type, data: Buffer.from(data) });
  }
  tick(): void {}
  step(_m: Message): void {}
  propose(data: Uint8Array): void {
    this.append(data);
  }
  proposeConfChange(cc: ConfChange): void {
    this.append(Buffer.from(JSON.stringify(cc)), EntryType.ENTRY_CONF_CHANGE);
  }
  hasReady(): boolean {
    return this.softPending || this.hsPending || this.unstable.length > 0 || this.commit > this.applied || this.reads.length > 0;
  }
  ready(): Ready {
    const rd: Ready = {
      softState: this.softPending ? { leader: this.id, role: Role.Leader } : undefined,
      hardState: this.hsPending ? { term: this.term, vote: this.id, commit: this.commit } : undefined,
      readStates: this.reads,
      entries: this.unstable,
      committedEntries: this.storage.entries(this.applied + 1, this.commit + 1, Infinity),
      messages: [],
      mustSync: this.unstable.length > 0,
    };
    return rd;
  }
  advance(): void {
    this.applied = Math.max(this.applied, this.commit);
    const persisted = this.unstable.length > 0;
    this.unstable = [];
    this.softPending = false;
    this.reads = [];
    this.hsPending = persisted && this.storage.lastIndex() > this.commit;
    if (this.hsPending) this.commit = this.storage.lastIndex();
  }
  applyConfChange(_cc: ConfChange): ConfState {
    return this.confState;
  }
  readIndex(context: Uint8Array): void {
    this.reads.push({ index: this.commit, context });
  }
  transferLeader(): void {}
  reportUnreachable(): void {}
  reportSnapshot(): void {}
  status(): Status {
    return { id: this.id, term: this.term, vote: this.id, commit: this.commit, applied: this.applied, leader: this.id, role: Role.Leader };
  }
}

export const singleVoterCore: CoreModule = { RawNode: SingleVoter, MemoryStorage: ArrayStorage };
