// The contract between the pure Raft core and everything around it (WAL, transport, timers,
// the store). The core never does I/O: the caller feeds it ticks and messages and drains
// `Ready` batches. Shaped after etcd-io/raft's RawNode so its tests and literature map across.
import type { ConfChange, ConfState, Entry, HardState, Message, Snapshot } from "../../../proto/gen/raft.js";

export type { ConfChange, ConfState, Entry, HardState, Message, Snapshot };

export const NONE = 0; // "no node": no leader known, no vote cast.

export enum Role {
  Follower = "follower",
  PreCandidate = "pre-candidate",
  Candidate = "candidate",
  Leader = "leader",
}

/** Read-only view of the stable log the core replicates from (etcd's raft.Storage). */
export interface LogStorage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if any exist, at most maxBytes beyond the first. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i; throws CompactedError below firstIndex()-1, UnavailableError past lastIndex(). */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

export class CompactedError extends Error {
  constructor(index: number) {
    super(`raft: entry ${index} is compacted`);
  }
}
export class UnavailableError extends Error {
  constructor(index: number) {
    super(`raft: entry ${index} is not available`);
  }
}
export class SnapshotOutOfDateError extends Error {
  constructor() {
    super("raft: snapshot is older than the existing one");
  }
}

export interface RaftConfig {
  id: number;
  /** Ticks without hearing from a leader before a follower campaigns (randomised in [n, 2n)). */
  electionTick: number;
  /** Ticks between a leader's heartbeats. */
  heartbeatTick: number;
  storage: LogStorage;
  /** Last index already applied to the state machine (on restart). */
  applied?: number;
  /** Upper bound on the bytes of entries in one append message. */
  maxSizePerMsg?: number;
  /** Upper bound on append messages in flight to one follower (pipelining window). */
  maxInflightMsgs?: number;
  /** Upper bound on bytes of uncommitted entries the leader accepts before dropping proposals. */
  maxUncommittedEntriesSize?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Source of randomness for election timeouts, injected so simulations replay from a seed. */
  random?: () => number;
}

export interface SoftState {
  leader: number;
  role: Role;
}

/** Answer to a ReadIndex request: once `index` is applied, a read tagged `context` is linearizable. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

/**
 * A batch of work. The caller must, in order: persist `hardState`, `entries` and `snapshot`
 * (fsync when `mustSync`), then send `messages`, apply `snapshot` and `committedEntries`, and
 * finally call `advance()`. When `messagesBeforePersist` is set (a leader's batch) the writes
 * may instead run in the background: send and apply at once (every committed entry is already
 * on the disks of a quorum), call `advance(false)`, and `persisted()` when the writes land.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  readStates: ReadState[];
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  mustSync: boolean;
  /** The messages depend on none of this batch's writes (a leader's appends and heartbeats). */
  messagesBeforePersist: boolean;
}

export interface Status {
  id: number;
  term: number;
  vote: number;
  commit: number;
  applied: number;
  leader: number;
  role: Role;
  /** Leader only: each peer's match and next index. */
  progress?: Map<number, { match: number; next: number; state: "probe" | "replicate" | "snapshot"; learner: boolean }>;
}

export class ProposalDroppedError extends Error {
  constructor(why: string) {
    super(`raft: proposal dropped: ${why}`);
  }
}

// Defaults for a LAN. A leader whose process dies is replaced within a few ticks: its peers see
// its connections drop and campaign at once (reportDisconnected). A leader that hangs or is cut
// off is noticed after the election timeout, 300–600 ms: long enough that a member stalled by GC
// or a busy machine for a few hundred ms does not set off an election, short enough to stay
// under a second.
/** The node driver's tick period. */
export const DEFAULT_TICK_MS = 10;
/** Ticks between leader heartbeats (50 ms). */
export const DEFAULT_HEARTBEAT_TICK = 5;
/** Ticks without a leader before campaigning, randomised in [n, 2n) (300–600 ms). */
export const DEFAULT_ELECTION_TICK = 30;
