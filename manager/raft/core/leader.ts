// What a leader does: replicate its log (batched appends, pipelined up to the inflight window,
// snapshots for followers that fell behind compaction), commit by counting (§5.3, §5.4.2), answer
// ReadIndex requests (§6.4) and hand leadership over (§3.10).
import { EntryType, MessageType, type Entry, type Message } from "../../../proto/gen/raft.js";
import { NONE, ProposalDroppedError, type ReadState } from "./api.js";
import { invariant } from "./assert.js";
import { EMPTY_BYTES, message, payloadSize } from "./entries.js";
import type { Raft } from "./raft.js";

export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MSG_BEAT:
      bcastHeartbeat(r);
      return;
    case MessageType.MSG_CHECK_QUORUM:
      if (!r.trk.quorumActive(r.id)) r.becomeFollower(r.term, NONE);
      return;
    case MessageType.MSG_PROP:
      propose(r, m);
      return;
    case MessageType.MSG_READ_INDEX:
      leaderReadIndex(r, m);
      return;
    case MessageType.MSG_APP:
      invariant(m.term !== r.term, () => `two leaders in term ${r.term}: ${r.id} and ${m.from}`);
      return;
  }
  const pr = r.trk.progress.get(m.from);
  if (!pr) return;
  switch (m.type) {
    case MessageType.MSG_APP_RESP: {
      pr.recentActive = true;
      if (m.reject) {
        let next = m.rejectHint;
        if (m.logTerm > 0) next = r.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
        if (pr.maybeDecrTo(m.index, next)) {
          if (pr.state === "replicate") pr.becomeProbe();
          sendAppend(r, m.from);
        }
        return;
      }
      const wasPaused = pr.isPaused();
      if (!pr.maybeUpdate(m.index)) return;
      if (pr.state === "probe") pr.becomeReplicate();
      else if (pr.state === "snapshot" && pr.match + 1 >= r.log.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === "replicate") pr.inflights.freeLE(m.index);
      if (maybeCommit(r)) afterCommit(r);
      else if (wasPaused) sendAppend(r, m.from);
      while (maybeSendAppend(r, m.from, false)) {
        // Fill the pipelining window.
      }
      if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
      return;
    }
    case MessageType.MSG_HEARTBEAT_RESP: {
      pr.recentActive = true;
      pr.probeSent = false;
      // The follower is alive but acknowledgements may have been lost: let one append through.
      if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
      if (pr.match < r.log.lastIndex()) sendAppend(r, m.from);
      if (m.context.length === 0) return;
      const acks = r.readOnly.recvAck(m.from, m.context);
      if (!acks) return;
      let votersAcked = 1;
      for (const id of acks) if (id !== r.id && r.trk.voters.has(id)) votersAcked++;
      if (votersAcked < r.trk.quorum()) return;
      for (const rs of r.readOnly.advance(m.context)) respondToReadIndex(r, rs.request, rs.index);
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
      if (r.leadTransferee === to || to === r.id) return;
      r.electionElapsed = 0;
      r.leadTransferee = to;
      if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, to);
      else sendAppend(r, to);
      return;
    }
  }
}

function propose(r: Raft, m: Message): void {
  invariant(m.entries.length > 0, () => "proposal without entries");
  if (!r.trk.progress.has(r.id)) throw new ProposalDroppedError("this member was removed from the cluster");
  if (r.leadTransferee !== NONE) throw new ProposalDroppedError(`leadership is being transferred to ${r.leadTransferee}; retry on the new leader`);
  for (const e of m.entries) {
    if (e.type !== EntryType.ENTRY_CONF_CHANGE) continue;
    if (r.pendingConfIndex > r.log.applied) {
      throw new ProposalDroppedError(`a membership change is still pending at index ${r.pendingConfIndex}; retry once it is applied`);
    }
    r.pendingConfIndex = r.log.lastIndex() + 1;
  }
  if (!appendEntry(r, m.entries.map((e) => ({ ...e })))) {
    throw new ProposalDroppedError(`too many uncommitted bytes (limit ${r.maxUncommittedSize}); retry after the cluster catches up`);
  }
  bcastAppend(r);
}

/** Sends an append (or a snapshot if the needed entries are compacted). Returns whether it sent. */
export function maybeSendAppend(r: Raft, to: number, sendIfEmpty: boolean): boolean {
  const pr = r.trk.progress.get(to);
  if (!pr || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  let ents: Entry[] | undefined;
  if (prevTerm !== undefined) {
    try {
      ents = r.log.entriesFrom(pr.next, r.maxMsgSize);
    } catch {
      ents = undefined;
    }
  }
  if (ents && ents.length === 0 && !sendIfEmpty) return false;
  if (prevTerm === undefined || ents === undefined) {
    if (!pr.recentActive) return false;
    const snap = r.log.snapshot();
    invariant(snap.metadata!.index > 0, () => `need a snapshot for member ${to} but the log has none`);
    r.send(message({ type: MessageType.MSG_SNAP, to, snapshot: snap }));
    pr.becomeSnapshot(snap.metadata!.index);
    return true;
  }
  r.send(message({ type: MessageType.MSG_APP, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: r.log.committed }));
  pr.sentEntries(ents.length, ents.length > 0 ? ents[ents.length - 1]!.index : 0);
  return true;
}

/**
 * After the commit index moved: release held reads and send entries to whoever waits for them.
 * A follower that only needs the new commit mark learns it from the next append or heartbeat
 * (50 ms by default), so a commit does not cost a round of empty appends and their answers; the
 * price is that an idle follower applies up to a heartbeat later. ReadIndex sends its heartbeats
 * at once, so reads on a follower do not wait for that.
 */
export function afterCommit(r: Raft): void {
  releasePendingReadIndexMessages(r);
  forEachPeer(r, (id) => maybeSendAppend(r, id, false));
}

function sendAppend(r: Raft, to: number): void {
  maybeSendAppend(r, to, true);
}

function sendHeartbeat(r: Raft, to: number, context: Uint8Array): void {
  const pr = r.trk.progress.get(to)!;
  // Never tell a follower to commit past what we know it holds.
  const commit = Math.min(pr.match, r.log.committed);
  r.send(message({ type: MessageType.MSG_HEARTBEAT, to, commit, context }));
}

export function forEachPeer(r: Raft, fn: (id: number) => void): void {
  for (const id of r.trk.ids()) if (id !== r.id) fn(id);
}

export function bcastAppend(r: Raft): void {
  forEachPeer(r, (id) => sendAppend(r, id));
}

function bcastHeartbeat(r: Raft, context: Uint8Array = r.readOnly.lastPendingContext() ?? EMPTY_BYTES): void {
  forEachPeer(r, (id) => sendHeartbeat(r, id, context));
}

function sendTimeoutNow(r: Raft, to: number): void {
  r.send(message({ type: MessageType.MSG_TIMEOUT_NOW, to }));
}

function leaderReadIndex(r: Raft, m: Message): void {
  if (r.trk.isSingleton() || r.trk.voters.size === 1) {
    respondToReadIndex(r, m, r.log.committed);
    return;
  }
  // Until an entry of our term commits we do not know the true commit index (§6.4 / §8).
  if (r.log.term(r.log.committed) !== r.term) {
    r.pendingReadIndexMessages.push(m);
    return;
  }
  serveReadIndex(r, m);
}

function serveReadIndex(r: Raft, m: Message): void {
  if (!r.readOnly.addRequest(r.log.committed, m)) return;
  r.readOnly.recvAck(r.id, m.context);
  bcastHeartbeat(r, m.context);
}

export function releasePendingReadIndexMessages(r: Raft): void {
  const pending = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of pending) serveReadIndex(r, m);
}

function respondToReadIndex(r: Raft, req: Message, index: number): void {
  if (req.from === NONE || req.from === r.id) {
    const rs: ReadState = { index, context: req.context };
    r.readStates.push(rs);
  } else {
    r.send(message({ type: MessageType.MSG_READ_INDEX_RESP, to: req.from, index, context: req.context }));
  }
}

/** Appends entries of our term to the log. Our own copy counts toward commit once persisted (Raft.appendPersisted). */
export function appendEntry(r: Raft, es: Entry[]): boolean {
  const last = r.log.lastIndex();
  for (let i = 0; i < es.length; i++) {
    es[i]!.term = r.term;
    es[i]!.index = last + 1 + i;
  }
  const size = payloadSize(es);
  if (r.uncommittedSize > 0 && size > 0 && r.uncommittedSize + size > r.maxUncommittedSize) return false;
  r.uncommittedSize += size;
  const newLast = r.log.append(es);
  invariant(newLast === last + es.length, () => `leader ${r.id} overwrote its own log at ${last + 1}`);
  return true;
}

export function maybeCommit(r: Raft): boolean {
  return r.log.maybeCommit(r.trk.committed(), r.term);
}
