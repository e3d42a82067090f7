// The face of a Raft member (node.ts) to the rest of Shoal: the application it replicates, its
// options and its status.
import type { ChannelCredentials, Server, ServerCredentials } from "@grpc/grpc-js";
import type { Entry } from "../../proto/gen/raft.js";
import type { Role } from "./core/index.js";
import type { MemberInfo } from "./envelope.js";
import type { RecordSealer } from "./wal/record.js";

/** The replicated application. apply() sees each committed entry once, in index order. */
export interface StateMachine {
  /**
   * Applies a committed entry. `local` is what this process handed to `propose` beside the
   * entry's bytes, when the entry is one it proposed: the same value, so the proposer's side may
   * skip decoding its own entries. Other members, and this one after a restart, get undefined.
   */
  apply(entry: Entry, local?: unknown): unknown;
  snapshot(): Buffer;
  restore(data: Buffer): void;
}

export interface RaftNodeOptions {
  id: number;
  dataDir: string;
  stateMachine: StateMachine;
  /** This member's own addresses; raftAddress is where the transport listens. */
  self: MemberInfo;
  /** Bootstrap a new cluster with these voters (including self). Omit when joining an existing one. */
  initialMembers?: Map<number, MemberInfo>;
  /** Joining an existing cluster: its current members, so replies reach the leader before the first snapshot. */
  joinMembers?: Map<number, MemberInfo>;
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Take a snapshot after this many applied entries. */
  snapshotInterval?: number;
  /** Entries kept in memory behind a snapshot so slow followers catch up without one. */
  snapshotCatchUpEntries?: number;
  proposalTimeoutMs?: number;
  serverCredentials?: ServerCredentials;
  /** Serve the transport on this server (already bound by its owner) instead of listening on self.raftAddress. */
  server?: Server;
  channelCredentials?: ChannelCredentials;
  log?: (line: string) => void;
  /** Encryption at rest: the log's entries and hard states and the snapshot files are sealed with it. */
  sealer?: RecordSealer;
  /** Called whenever this member's role or the leader it knows changes (from the Ready loop: keep it short). */
  onLeadershipChange?: (change: { role: Role; leader: number }) => void;
}

export interface RaftNodeStatus {
  id: number;
  role: Role;
  leader: number;
  term: number;
  commit: number;
  applied: number;
  snapshotIndex: number;
  snapshotsReceived: number;
  /** Messages the transport dropped (peer down or queue full). */
  messagesDropped: number;
  members: Record<number, MemberInfo & { voter: boolean }>;
}

