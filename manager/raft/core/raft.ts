// The Raft state machine proper (etcd's raft struct): roles, elections, replication, commit,
// membership and reads. Pure: it only reads its LogStorage and queues messages in `msgs`.
import { ConfChangeType, EntryType, MessageType, type ConfChange, type ConfState, type Entry, type HardState, type Message, type Snapshot } from "../../../proto/gen/raft.js";
import { NONE, ProposalDroppedError, Role, type RaftConfig, type ReadState } from "./api.js";
import { invariant } from "./assert.js";
import { EMPTY_BYTES, message, payloadSize, voteResponseType } from "./entries.js";
import { RaftLog } from "./log.js";
import { ProgressTracker, VoteResult } from "./progress.js";
import { ReadOnly } from "./readonly.js";

/** Marks a vote request sent on a leader's behalf (MSG_TIMEOUT_NOW), which bypasses the lease. */
const CAMPAIGN_TRANSFER = Buffer.from("CampaignTransfer");

export class Raft {
  readonly id: number;
  term = 0;
  vote = NONE;
  lead = NONE;
  role = Role.Follower;
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  leadTransferee = NONE;
  /** Log index of the latest conf change the leader appended; a second waits until it is applied. */
  pendingConfIndex = 0;
  uncommittedSize = 0;
  private readOnly: ReadOnly;
  private pendingReadIndexMessages: Message[] = [];
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private readonly electionTimeout: number;
  private readonly heartbeatTimeout: number;
  private readonly maxMsgSize: number;
  private readonly maxUncommittedSize: number;
  private readonly maxInflight: number;
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
    this.maxInflight = c.maxInflightMsgs ?? 256;
    this.checkQuorum = c.checkQuorum ?? false;
    this.preVote = c.preVote ?? false;
    this.random = c.random ?? Math.random;
    this.readOnly = new ReadOnly(4096);
    this.log = new RaftLog(c.storage, this.maxMsgSize * 8);
    this.trk = new ProgressTracker(this.maxInflight);
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

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.log.unstable.snapshot;
  }

  // ---- sending ----

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    if (m.type === MessageType.MSG_VOTE || m.type === MessageType.MSG_VOTE_RESP || m.type === MessageType.MSG_PRE_VOTE || m.type === MessageType.MSG_PRE_VOTE_RESP) {
      invariant(m.term !== 0, () => `vote message ${MessageType[m.type]} without a term`);
    } else if (m.type !== MessageType.MSG_PROP && m.type !== MessageType.MSG_READ_INDEX) {
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  /** Sends an append (or a snapshot if the needed entries are compacted). Returns whether it sent. */
  private maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        ents = this.log.entriesFrom(pr.next, this.maxMsgSize);
      } catch {
        ents = undefined;
      }
    }
    if (ents && ents.length === 0 && !sendIfEmpty) return false;
    if (prevTerm === undefined || ents === undefined) {
      if (!pr.recentActive) return false;
      const snap = this.log.snapshot();
      invariant(snap.metadata!.index > 0, () => `need a snapshot for member ${to} but the log has none`);
      this.send(message({ type: MessageType.MSG_SNAP, to, snapshot: snap }));
      pr.becomeSnapshot(snap.metadata!.index);
      return true;
    }
    this.send(message({ type: MessageType.MSG_APP, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed }));
    pr.sentEntries(ents.length, ents.length > 0 ? ents[ents.length - 1]!.index : 0);
    return true;
  }

  private sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  private sendHeartbeat(to: number, context: Uint8Array): void {
    const pr = this.trk.progress.get(to)!;
    // Never tell a follower to commit past what we know it holds.
    const commit = Math.min(pr.match, this.log.committed);
    this.send(message({ type: MessageType.MSG_HEARTBEAT, to, commit, context }));
  }

  private forEachPeer(fn: (id: number) => void): void {
    for (const id of [...this.trk.progress.keys()].sort((a, b) => a - b)) if (id !== this.id) fn(id);
  }

  private bcastAppend(): void {
    this.forEachPeer((id) => this.sendAppend(id));
  }

  private bcastHeartbeat(context: Uint8Array = this.readOnly.lastPendingContext() ?? EMPTY_BYTES): void {
    this.forEachPeer((id) => this.sendHeartbeat(id, context));
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
    this.trk.resetProgress(this.id, this.log.lastIndex());
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(4096);
    this.pendingReadIndexMessages = [];
  }

  becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
  }

  private becomePreCandidate(): void {
    invariant(this.role !== Role.Leader, () => "leader cannot become pre-candidate");
    // Pre-vote changes neither term nor vote: a partitioned node cannot disrupt by rejoining.
    this.trk.votes.clear();
    this.lead = NONE;
    this.role = Role.PreCandidate;
  }

  private becomeCandidate(): void {
    invariant(this.role !== Role.Leader, () => "leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    invariant(this.role !== Role.Follower, () => "follower cannot become leader without an election");
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // Conf changes in our uncommitted tail may be pending; refuse new ones until it is applied.
    this.pendingConfIndex = this.log.lastIndex();
    // An entry of our own term lets us commit (and answer reads) without waiting for a client.
    const ok = this.appendEntry([{ term: 0, index: 0, type: EntryType.ENTRY_NORMAL, data: EMPTY_BYTES }]);
    invariant(ok, () => "new leader could not append its empty entry");
    // The empty entry does not count against the uncommitted bound.
    this.uncommittedSize = 0;
  }

  private hup(transfer: boolean): void {
    if (this.role === Role.Leader || !this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(this.preVote && !transfer ? "pre" : "real", transfer);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    try {
      const ents = this.log.slice(this.log.applied + 1, this.log.committed + 1, Infinity);
      return ents.some((e) => e.type === EntryType.ENTRY_CONF_CHANGE);
    } catch {
      return false;
    }
  }

  private campaign(kind: "pre" | "real", transfer: boolean): void {
    let voteType: MessageType;
    let term: number;
    if (kind === "pre") {
      this.becomePreCandidate();
      voteType = MessageType.MSG_PRE_VOTE;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.MSG_VOTE;
      term = this.term;
    }
    const { result } = this.poll(this.id, true);
    if (result === VoteResult.Won) {
      if (kind === "pre") this.campaign("real", transfer);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of [...this.trk.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send(message({ type: voteType, to: id, term, index: lastIndex, logTerm: lastTerm, context: transfer ? CAMPAIGN_TRANSFER : undefined }));
    }
  }

  private poll(id: number, granted: boolean) {
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes();
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

    switch (m.type) {
      case MessageType.MSG_HUP:
        this.hup(false);
        return;
      case MessageType.MSG_VOTE:
      case MessageType.MSG_PRE_VOTE: {
        const canVote =
          this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (m.type === MessageType.MSG_PRE_VOTE && m.term > this.term);
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
        return;
      }
    }
    if (this.role === Role.Leader) this.stepLeader(m);
    else if (this.role === Role.Follower) this.stepFollower(m);
    else this.stepCandidate(m);
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.MSG_BEAT:
        this.bcastHeartbeat();
        return;
      case MessageType.MSG_CHECK_QUORUM:
        if (!this.trk.quorumActive(this.id)) this.becomeFollower(this.term, NONE);
        return;
      case MessageType.MSG_PROP: {
        invariant(m.entries.length > 0, () => "proposal without entries");
        if (!this.trk.progress.has(this.id)) throw new ProposalDroppedError("this member was removed from the cluster");
        if (this.leadTransferee !== NONE) throw new ProposalDroppedError(`leadership is being transferred to ${this.leadTransferee}; retry on the new leader`);
        for (const e of m.entries) {
          if (e.type !== EntryType.ENTRY_CONF_CHANGE) continue;
          if (this.pendingConfIndex > this.log.applied) {
            throw new ProposalDroppedError(`a membership change is still pending at index ${this.pendingConfIndex}; retry once it is applied`);
          }
          this.pendingConfIndex = this.log.lastIndex() + 1;
        }
        if (!this.appendEntry(m.entries.map((e) => ({ ...e })))) {
          throw new ProposalDroppedError(`too many uncommitted bytes (limit ${this.maxUncommittedSize}); retry after the cluster catches up`);
        }
        this.bcastAppend();
        return;
      }
      case MessageType.MSG_READ_INDEX:
        this.leaderReadIndex(m);
        return;
      case MessageType.MSG_APP:
        invariant(m.term !== this.term, () => `two leaders in term ${this.term}: ${this.id} and ${m.from}`);
        return;
    }
    const pr = this.trk.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.MSG_APP_RESP: {
        pr.recentActive = true;
        if (m.reject) {
          let next = m.rejectHint;
          if (m.logTerm > 0) next = this.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
          if (pr.maybeDecrTo(m.index, next)) {
            if (pr.state === "replicate") pr.becomeProbe();
            this.sendAppend(m.from);
          }
          return;
        }
        const wasPaused = pr.isPaused();
        if (!pr.maybeUpdate(m.index)) return;
        if (pr.state === "probe") pr.becomeReplicate();
        else if (pr.state === "snapshot" && pr.match + 1 >= this.log.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === "replicate") pr.inflights.freeLE(m.index);
        if (this.maybeCommit()) {
          this.releasePendingReadIndexMessages();
          this.bcastAppend();
        } else if (wasPaused) {
          this.sendAppend(m.from);
        }
        while (this.maybeSendAppend(m.from, false)) {
          // Fill the pipelining window.
        }
        if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
        return;
      }
      case MessageType.MSG_HEARTBEAT_RESP: {
        pr.recentActive = true;
        pr.probeSent = false;
        // The follower is alive but acknowledgements may have been lost: let one append through.
        if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        if (m.context.length === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (!acks) return;
        let votersAcked = 1;
        for (const id of acks) if (id !== this.id && this.trk.voters.has(id)) votersAcked++;
        if (votersAcked < this.trk.quorum()) return;
        for (const rs of this.readOnly.advance(m.context)) this.respondToReadIndex(rs.request, rs.index);
        return;
      }
      case MessageType.MSG_SNAP_STATUS:
        if (pr.state !== "snapshot") return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for an answer (a heartbeat response) before the next append.
        pr.probeSent = true;
        return;
      case MessageType.MSG_UNREACHABLE:
        if (pr.state === "replicate") pr.becomeProbe();
        return;
      case MessageType.MSG_TRANSFER_LEADER: {
        if (pr.isLearner) return;
        const to = m.from;
        if (this.leadTransferee === to || to === this.id) return;
        this.electionElapsed = 0;
        this.leadTransferee = to;
        if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
        else this.sendAppend(to);
        return;
      }
    }
  }

  private sendTimeoutNow(to: number): void {
    this.send(message({ type: MessageType.MSG_TIMEOUT_NOW, to }));
  }

  private leaderReadIndex(m: Message): void {
    if (this.trk.isSingleton() || this.trk.voters.size === 1) {
      this.respondToReadIndex(m, this.log.committed);
      return;
    }
    // Until an entry of our term commits we do not know the true commit index (§6.4 / §8).
    if (this.log.term(this.log.committed) !== this.term) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    this.serveReadIndex(m);
  }

  private serveReadIndex(m: Message): void {
    if (!this.readOnly.addRequest(this.log.committed, m)) return;
    this.readOnly.recvAck(this.id, m.context);
    this.bcastHeartbeat(m.context);
  }

  private releasePendingReadIndexMessages(): void {
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of pending) this.serveReadIndex(m);
  }

  private respondToReadIndex(req: Message, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, context: req.context });
    } else {
      this.send(message({ type: MessageType.MSG_READ_INDEX_RESP, to: req.from, index, context: req.context }));
    }
  }

  private stepCandidate(m: Message): void {
    const myResp = this.role === Role.PreCandidate ? MessageType.MSG_PRE_VOTE_RESP : MessageType.MSG_VOTE_RESP;
    switch (m.type) {
      case MessageType.MSG_PROP:
        throw new ProposalDroppedError(`no leader (member ${this.id} is campaigning in term ${this.term}); retry shortly`);
      case MessageType.MSG_APP:
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case MessageType.MSG_HEARTBEAT:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.MSG_SNAP:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myResp: {
        const { result } = this.poll(m.from, !m.reject);
        if (result === VoteResult.Won) {
          if (this.role === Role.PreCandidate) this.campaign("real", false);
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === VoteResult.Lost) {
          // A rejection at a higher term already made us a follower at that term.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.MSG_PROP:
        if (this.lead === NONE) throw new ProposalDroppedError(`no leader known to member ${this.id} in term ${this.term}; retry shortly`);
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.MSG_APP:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case MessageType.MSG_HEARTBEAT:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.MSG_SNAP:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.MSG_TRANSFER_LEADER:
        if (this.lead !== NONE) this.send({ ...m, to: this.lead });
        return;
      case MessageType.MSG_TIMEOUT_NOW:
        this.hup(true);
        return;
      case MessageType.MSG_READ_INDEX:
        if (this.lead !== NONE) this.send({ ...m, to: this.lead });
        return;
      case MessageType.MSG_READ_INDEX_RESP:
        this.readStates.push({ index: m.index, context: m.context });
        return;
    }
  }

  private handleAppend(m: Message): void {
    invariant(this.role !== Role.Leader, () => `leader ${this.id} received an append for its own term ${this.term}`);
    if (m.index < this.log.committed) {
      this.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: lastNew }));
      return;
    }
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm }));
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    this.send(message({ type: MessageType.MSG_HEARTBEAT_RESP, to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s && this.restore(s)) {
      this.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: this.log.lastIndex() }));
    } else {
      this.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: this.log.committed }));
    }
  }

  /** Installs a leader's snapshot; false if we already have everything it covers. */
  private restore(s: Snapshot): boolean {
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
    this.trk.voters.clear();
    this.trk.learners.clear();
    this.trk.progress.clear();
    this.applyConfState(cs);
    return true;
  }

  private applyConfState(cs: ConfState): void {
    const next = this.log.lastIndex() + 1;
    for (const id of cs.voters) this.trk.setMember(id, false, next);
    for (const id of cs.learners) this.trk.setMember(id, true, next);
    const self = this.trk.progress.get(this.id);
    if (self) self.match = this.log.lastIndex();
  }

  // ---- leader helpers ----

  private appendEntry(es: Entry[]): boolean {
    const last = this.log.lastIndex();
    for (let i = 0; i < es.length; i++) {
      es[i]!.term = this.term;
      es[i]!.index = last + 1 + i;
    }
    const size = payloadSize(es);
    if (this.uncommittedSize > 0 && size > 0 && this.uncommittedSize + size > this.maxUncommittedSize) return false;
    this.uncommittedSize += size;
    const newLast = this.log.append(es);
    invariant(newLast === last + es.length, () => `leader ${this.id} overwrote its own log at ${last + 1}`);
    this.trk.progress.get(this.id)?.maybeUpdate(newLast);
    this.maybeCommit();
    return true;
  }

  private maybeCommit(): boolean {
    return this.log.maybeCommit(this.trk.committed(), this.term);
  }

  reduceUncommittedSize(ents: Entry[]): void {
    if (this.role !== Role.Leader) return;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - payloadSize(ents));
  }

  // ---- membership ----

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
    if (this.maybeCommit()) this.bcastAppend();
    else this.forEachPeer((id) => this.maybeSendAppend(id, false));
    if (this.leadTransferee !== NONE && !this.trk.voters.has(this.leadTransferee)) this.leadTransferee = NONE;
    return cs;
  }
}
