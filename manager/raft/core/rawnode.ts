// The caller's handle on the core (etcd's RawNode): feed it ticks, messages and proposals, then
// drain Ready batches. One Ready at a time: ready() must be followed by advance().
import { ConfChange, EntryType, MessageType, type ConfState, type HardState, type Message } from "../../../proto/gen/raft.js";
import { NONE, Role, type RaftConfig, type Ready, type SoftState, type Status } from "./api.js";
import { invariant } from "./assert.js";
import { isLocalMessage, isResponseMessage, message } from "./entries.js";
import { leaderDisconnected } from "./follower.js";
import { Raft } from "./raft.js";
import { ProposalDroppedError } from "./api.js";

interface InFlightReady {
  firstEntry: number;
  lastEntry?: { index: number; term: number };
  lastCommitted: number;
  snapshotIndex: number;
}

export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private inFlight: InFlightReady | undefined;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.softState();
    this.prevHard = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (tests and forced failover). */
  campaign(): void {
    this.raft.step(message({ type: MessageType.MSG_HUP }));
  }

  /** Proposes data; throws ProposalDroppedError when it cannot be appended (no leader, transfer...). */
  propose(data: Uint8Array): void {
    this.raft.step(message({ type: MessageType.MSG_PROP, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.ENTRY_NORMAL, data: toBuffer(data) }] }));
  }

  proposeConfChange(cc: ConfChange): void {
    const data = Buffer.from(ConfChange.encode(cc).finish());
    this.raft.step(message({ type: MessageType.MSG_PROP, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.ENTRY_CONF_CHANGE, data }] }));
  }

  /** Applies a committed conf change (call when applying its entry); returns the new membership. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Steps a message from the network. Local-only types are refused; dropped forwarded proposals are ignored. */
  step(m: Message): void {
    if (isLocalMessage(m.type)) throw new Error(`raft: message type ${MessageType[m.type]} is local and cannot come from the network`);
    if (isResponseMessage(m.type) && m.from !== NONE && !this.raft.trk.progress.has(m.from)) return;
    try {
      this.raft.step(m);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  transferLeader(to: number): void {
    this.raft.step(message({ type: MessageType.MSG_TRANSFER_LEADER, from: to }));
  }

  /** Asks for a linearizable read point; the answer comes as a ReadState tagged `context`. Dropped silently without a leader. */
  readIndex(context: Uint8Array): void {
    try {
      this.raft.step(message({ type: MessageType.MSG_READ_INDEX, context }));
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  reportUnreachable(id: number): void {
    this.raft.step(message({ type: MessageType.MSG_UNREACHABLE, from: id }));
  }

  /** The transport saw its connection to `id` drop; if `id` led, campaign soon instead of waiting out the lease. */
  reportDisconnected(id: number): void {
    leaderDisconnected(this.raft, id);
  }

  reportSnapshot(id: number, ok: boolean): void {
    this.raft.step(message({ type: MessageType.MSG_SNAP_STATUS, from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    if (!sameSoft(this.softState(), this.prevSoft)) return true;
    if (!sameHard(r.hardState(), this.prevHard)) return true;
    if (r.log.unstable.snapshot) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.log.unstableEntries().length > 0) return true;
    return r.log.hasNextCommittedEnts();
  }

  ready(): Ready {
    invariant(this.inFlight === undefined, () => "ready() called again before advance()");
    const r = this.raft;
    const entries = r.log.unstableEntries().slice();
    const committedEntries = r.log.nextCommittedEnts();
    const snapshot = r.log.unstable.snapshot;
    const soft = this.softState();
    const hard = r.hardState();
    const rd: Ready = { readStates: r.readStates, entries, committedEntries, messages: r.msgs, mustSync: false, messagesBeforePersist: false, snapshot };
    if (!sameSoft(soft, this.prevSoft)) {
      rd.softState = soft;
      this.prevSoft = soft;
    }
    let voteChanged = false;
    if (!sameHard(hard, this.prevHard)) {
      rd.hardState = hard;
      voteChanged = hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote;
      rd.mustSync = voteChanged;
      this.prevHard = hard;
    }
    if (entries.length > 0 || snapshot) rd.mustSync = true;
    // A leader's appends and heartbeats need none of this batch's writes (thesis §10.2.1): its
    // own copy counts toward commit only once advance() says it is on disk.
    rd.messagesBeforePersist = r.role === Role.Leader && !r.msgsAfterPersist && !voteChanged && !snapshot;
    r.msgs = [];
    r.msgsAfterPersist = false;
    r.readStates = [];
    r.reduceUncommittedSize(committedEntries);
    const last = entries[entries.length - 1];
    this.inFlight = {
      firstEntry: entries[0]?.index ?? 0,
      lastEntry: last ? { index: last.index, term: last.term } : undefined,
      lastCommitted: committedEntries.length > 0 ? committedEntries[committedEntries.length - 1]!.index : 0,
      snapshotIndex: snapshot ? snapshot.metadata!.index : 0,
    };
    return rd;
  }

  /**
   * The last Ready was sent and applied and its entries handed to storage. `durable`: its writes,
   * and every earlier one, are on disk. Otherwise (a leader's Ready, messagesBeforePersist) they
   * are still under way, and the caller reports each such write with persisted() when it lands,
   * in order; until then the leader does not count its own copy toward commit.
   */
  advance(durable = true): void {
    const f = this.inFlight;
    invariant(f !== undefined, () => "advance() called without a ready()");
    invariant(durable || f.snapshotIndex === 0, () => "a snapshot must be on disk before advance()");
    this.inFlight = undefined;
    const r = this.raft;
    const log = r.log;
    if (f.snapshotIndex > 0) {
      log.unstable.stableSnapTo(f.snapshotIndex);
      if (log.applied < f.snapshotIndex) log.applied = f.snapshotIndex;
    }
    if (f.lastCommitted > 0) log.appliedTo(f.lastCommitted);
    if (f.lastEntry) log.unstable.stableTo(f.lastEntry.index, f.lastEntry.term);
    if (durable) {
      r.writing = [];
      if (f.lastEntry) r.appendPersisted(f.lastEntry.index, f.lastEntry.term);
    } else if (f.lastEntry) {
      r.writing.push({ first: f.firstEntry, ...f.lastEntry });
    }
  }

  /** The oldest write left under way by advance(false) is on disk now. */
  persisted(): void {
    const w = this.raft.writing.shift();
    if (w) this.raft.appendPersisted(w.index, w.term);
  }

  status(): Status {
    const r = this.raft;
    const s: Status = { id: r.id, term: r.term, vote: r.vote, commit: r.log.committed, applied: r.log.applied, leader: r.lead, role: r.role };
    if (r.role === Role.Leader) {
      s.progress = new Map();
      for (const [id, pr] of r.trk.progress) s.progress.set(id, { match: pr.match, next: pr.next, state: pr.state, learner: pr.isLearner });
    }
    return s;
  }

  private softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role };
  }
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function toBuffer(d: Uint8Array): Buffer {
  return Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}
