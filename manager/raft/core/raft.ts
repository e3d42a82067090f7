// The Raft state machine proper (etcd's raft struct): its state, role changes, ticks, the first
// stage of step (terms and votes) and membership. What each role does with a message lives in
// leader.ts and follower.ts. Pure: it only reads its LogStorage and queues messages in `msgs`.
import { ConfChangeType, EntryType, MessageType, type ConfChange, type ConfState, type Entry, type HardState, type Message, type Snapshot } from "../../../proto/gen/raft.js";
import { NONE, Role, type RaftConfig, type ReadState } from "./api.js";
import { invariant } from "./assert.js";
import { EMPTY_BYTES, message, payloadSize, voteResponseType } from "./entries.js";
import { CAMPAIGN_TRANSFER, DISCONNECT_RETRY_TICKS, hup, stepCandidate, stepFollower } from "./follower.js";
import { afterCommit, appendEntry, bcastAppend, forEachPeer, maybeCommit, maybeSendAppend, stepLeader } from "./leader.js";
import { RaftLog } from "./log.js";
import { ProgressTracker } from "./progress.js";
import { ReadOnly } from "./readonly.js";

// The fields below are shared by this file, leader.ts and follower.ts (the core's modules); the
// rest of the code base reaches the core only through RawNode.
export class Raft {
  readonly id: number;
  term = 0;
  vote = NONE;
  lead = NONE;
  role = Role.Follower;
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  msgs: Message[] = [];
  /** A message in `msgs` was queued while not leading, so it may depend on this batch's writes. */
  msgsAfterPersist = false;
  /** Writes handed to storage but not yet on disk (RawNode.advance(false)), oldest first. */
  writing: { first: number; index: number; term: number }[] = [];
  readStates: ReadState[] = [];
  leadTransferee = NONE;
  /** Log index of the latest conf change the leader appended; a second waits until it is applied. */
  pendingConfIndex = 0;
  uncommittedSize = 0;
  readOnly = new ReadOnly(4096);
  pendingReadIndexMessages: Message[] = [];
  electionElapsed = 0;
  /** Quick retries left for a campaign started because the leader's connection dropped. */
  quickCampaigns = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  private readonly random: () => number;

  constructor(c: RaftConfig) {
    invariant(c.id !== NONE, () => "config id must not be 0");
    invariant(c.heartbeatTick > 0 && c.electionTick > c.heartbeatTick, () => `electionTick ${c.electionTick} must exceed heartbeatTick ${c.heartbeatTick} > 0`);
    this.id = c.id;
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.maxMsgSize = c.maxSizePerMsg ?? 1024 * 1024;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize ?? Infinity;
    this.checkQuorum = c.checkQuorum ?? false;
    this.preVote = c.preVote ?? false;
    this.random = c.random ?? Math.random;
    this.log = new RaftLog(c.storage, this.maxMsgSize * 8);
    this.trk = new ProgressTracker(c.maxInflightMsgs ?? 256);
    const { hardState, confState } = c.storage.initialState();
    this.applyConfState(confState);
    if (hardState.term !== 0 || hardState.vote !== 0 || hardState.commit !== 0) this.loadHardState(hardState);
    if (c.applied) this.log.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
  }

  private loadHardState(hs: HardState): void {
    invariant(hs.commit >= this.log.committed && hs.commit <= this.log.lastIndex(), () => `stored commit ${hs.commit} is outside [${this.log.committed}, ${this.log.lastIndex()}]; the log is corrupt or truncated`);
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /** Last index of our log that is on disk: neither unstable nor in a write still under way. */
  durableLastIndex(): number {
    const onDisk = this.log.persistedLastIndex();
    return this.writing.length > 0 ? Math.min(onDisk, this.writing[0]!.first - 1) : onDisk;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.log.unstable.snapshot;
  }

  send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    if (m.type === MessageType.MSG_VOTE || m.type === MessageType.MSG_VOTE_RESP || m.type === MessageType.MSG_PRE_VOTE || m.type === MessageType.MSG_PRE_VOTE_RESP) {
      invariant(m.term !== 0, () => `vote message ${MessageType[m.type]} without a term`);
    } else if (m.type !== MessageType.MSG_PROP && m.type !== MessageType.MSG_READ_INDEX) {
      m.term = this.term;
    }
    if (this.role !== Role.Leader) this.msgsAfterPersist = true;
    this.msgs.push(m);
  }

  // ---- role changes ----

  private reset(term: number): void {
    invariant(term >= this.term, () => `term would go back from ${this.term} to ${term}`);
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.random() * this.electionTimeout);
    this.leadTransferee = NONE;
    this.trk.votes.clear();
    // Our own copy counts only as far as it is on disk (see appendPersisted).
    this.trk.resetProgress(this.id, this.log.lastIndex(), this.durableLastIndex());
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(4096);
    this.pendingReadIndexMessages = [];
  }

  becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
    if (lead !== NONE) this.quickCampaigns = 0;
  }

  heardFromLeader(lead: number): void {
    this.electionElapsed = 0;
    this.lead = lead;
    this.quickCampaigns = 0;
  }

  becomePreCandidate(): void {
    invariant(this.role !== Role.Leader, () => "leader cannot become pre-candidate");
    // Pre-vote changes neither term nor vote: a partitioned node cannot disrupt by rejoining.
    this.trk.votes.clear();
    this.lead = NONE;
    this.role = Role.PreCandidate;
  }

  becomeCandidate(): void {
    invariant(this.role !== Role.Leader, () => "leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  becomeLeader(): void {
    invariant(this.role !== Role.Follower, () => "follower cannot become leader without an election");
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    this.quickCampaigns = 0;
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // An entry of our own term lets us commit (and answer reads) without waiting for a client.
    const ok = appendEntry(this, [{ term: 0, index: 0, type: EntryType.ENTRY_NORMAL, data: EMPTY_BYTES }]);
    invariant(ok, () => "new leader could not append its empty entry");
    // Conf changes in our uncommitted tail may be pending: refuse new ones until all of it, and
    // the entry of our own term just appended, are applied.
    this.pendingConfIndex = this.log.lastIndex();
    // The empty entry does not count against the uncommitted bound.
    this.uncommittedSize = 0;
  }

  // ---- ticks ----

  tick(): void {
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(message({ type: MessageType.MSG_HUP, from: this.id }));
      if (this.quickCampaigns > 0 && this.role !== Role.Leader) {
        this.quickCampaigns--;
        this.electionElapsed = this.randomizedElectionTimeout - DISCONNECT_RETRY_TICKS;
      }
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(message({ type: MessageType.MSG_CHECK_QUORUM, from: this.id }));
      // A transfer that has not finished within an election timeout has failed.
      if (this.role === Role.Leader && this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.role !== Role.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: MessageType.MSG_BEAT, from: this.id }));
    }
  }

  // ---- step ----

  step(m: Message): void {
    if (m.term === 0) {
      // Local message.
    } else if (m.term > this.term) {
      if (m.type === MessageType.MSG_VOTE || m.type === MessageType.MSG_PRE_VOTE) {
        const force = Buffer.compare(Buffer.from(m.context), CAMPAIGN_TRANSFER) === 0;
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        // We heard from a live leader recently: a vote request is from a disruptive node.
        if (!force && inLease) return;
      }
      if (m.type === MessageType.MSG_PRE_VOTE) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.MSG_PRE_VOTE_RESP && !m.reject) {
        // Granted pre-votes carry the term we would campaign at; we bump it only on winning.
      } else if (m.type === MessageType.MSG_APP || m.type === MessageType.MSG_HEARTBEAT || m.type === MessageType.MSG_SNAP) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.MSG_HEARTBEAT || m.type === MessageType.MSG_APP)) {
        // A stale leader cut off by check-quorum/pre-vote would never hear our higher term otherwise.
        this.send(message({ type: MessageType.MSG_APP_RESP, to: m.from }));
      } else if (m.type === MessageType.MSG_PRE_VOTE) {
        this.send(message({ type: MessageType.MSG_PRE_VOTE_RESP, to: m.from, term: this.term, reject: true }));
      }
      return;
    }
    if (m.type === MessageType.MSG_HUP) {
      hup(this, false);
      return;
    }
    if (m.type === MessageType.MSG_VOTE || m.type === MessageType.MSG_PRE_VOTE) {
      this.handleVoteRequest(m);
      return;
    }
    if (this.role === Role.Leader) stepLeader(this, m);
    else if (this.role === Role.Follower) stepFollower(this, m);
    else stepCandidate(this, m);
  }

  private handleVoteRequest(m: Message): void {
    const canVote = this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (m.type === MessageType.MSG_PRE_VOTE && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // Answer with the request's term: a pre-vote grant must not look stale to the asker.
      this.send(message({ type: voteResponseType(m.type), to: m.from, term: m.term }));
      if (m.type === MessageType.MSG_VOTE) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(message({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true }));
    }
  }

  /** The caller persisted our log up to (index, term): as leader, our own copy now counts toward commit. */
  appendPersisted(index: number, term: number): void {
    if (this.role !== Role.Leader || !this.log.matchTerm(index, term)) return;
    const self = this.trk.progress.get(this.id);
    if (!self?.maybeUpdate(index)) return;
    if (maybeCommit(this)) afterCommit(this);
  }

  reduceUncommittedSize(ents: Entry[]): void {
    if (this.role !== Role.Leader) return;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - payloadSize(ents));
  }

  // ---- snapshots and membership ----

  /** Installs a leader's snapshot; false if we already have everything it covers. */
  restore(s: Snapshot): boolean {
    const meta = s.metadata!;
    if (meta.index <= this.log.committed) return false;
    invariant(this.role === Role.Follower, () => `non-follower ${this.id} asked to restore a snapshot`);
    // A snapshot may predate our own admission; the conf change adding us follows in the log.
    const cs = meta.confState ?? { voters: [], learners: [] };
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We have the snapshot's last entry: just fast-forward the commit.
      this.log.commitTo(meta.index);
      return false;
    }
    this.log.restore(s);
    this.trk.clear();
    this.applyConfState(cs);
    return true;
  }

  private applyConfState(cs: ConfState): void {
    const next = this.log.lastIndex() + 1;
    for (const id of cs.voters) this.trk.setMember(id, false, next);
    for (const id of cs.learners) this.trk.setMember(id, true, next);
    const self = this.trk.progress.get(this.id);
    if (self) self.match = this.durableLastIndex();
  }

  applyConfChange(cc: ConfChange): ConfState {
    if (cc.nodeId !== NONE) {
      const next = Math.max(this.log.lastIndex(), 1);
      if (cc.type === ConfChangeType.CONF_ADD_NODE) this.trk.setMember(cc.nodeId, false, next);
      else if (cc.type === ConfChangeType.CONF_ADD_LEARNER) this.trk.setMember(cc.nodeId, true, next);
      else if (cc.type === ConfChangeType.CONF_REMOVE_NODE) this.trk.remove(cc.nodeId);
      else throw new Error(`raft: unknown conf change type ${cc.type}`);
    }
    const cs = this.trk.confState();
    const self = this.trk.progress.get(this.id);
    if (this.role === Role.Leader && (!self || self.isLearner)) {
      // Removed or demoted: step down; the remaining voters elect a leader among themselves.
      this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.role !== Role.Leader || cs.voters.length === 0) return cs;
    // A smaller quorum may commit more now; new members need their first append.
    if (maybeCommit(this)) bcastAppend(this);
    else forEachPeer(this, (id) => maybeSendAppend(this, id, false));
    if (this.leadTransferee !== NONE && !this.trk.voters.has(this.leadTransferee)) this.leadTransferee = NONE;
    return cs;
  }
}
