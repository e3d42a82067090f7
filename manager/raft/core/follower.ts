// What followers and candidates do: elections with pre-vote (§5.2, thesis §9.6), taking a
// leader's appends, heartbeats and snapshots (§5.3, §7), and campaigning early when the
// transport saw the leader's connection drop.
import { EntryType, MessageType, type Message } from "../../../proto/gen/raft.js";
import { NONE, ProposalDroppedError, Role } from "./api.js";
import { invariant } from "./assert.js";
import { message } from "./entries.js";
import { bcastAppend } from "./leader.js";
import { VoteResult } from "./progress.js";
import type { Raft } from "./raft.js";

/** Marks a vote request sent on a leader's behalf (MSG_TIMEOUT_NOW), which bypasses the lease. */
export const CAMPAIGN_TRANSFER = Buffer.from("CampaignTransfer");

/**
 * Ticks between the campaigns of the followers that lost the leader, in id order: long enough for
 * the first one's pre-vote and vote to reach the others, so they vote rather than split.
 */
const DISCONNECT_CAMPAIGN_SPACING = 3;

export function hup(r: Raft, transfer: boolean): void {
  if (r.role === Role.Leader || !r.promotable()) return;
  if (hasUnappliedConfChanges(r)) return;
  campaign(r, r.preVote && !transfer ? "pre" : "real", transfer);
}

function hasUnappliedConfChanges(r: Raft): boolean {
  if (r.log.applied >= r.log.committed) return false;
  try {
    const ents = r.log.slice(r.log.applied + 1, r.log.committed + 1, Infinity);
    return ents.some((e) => e.type === EntryType.ENTRY_CONF_CHANGE);
  } catch {
    return false;
  }
}

function campaign(r: Raft, kind: "pre" | "real", transfer: boolean): void {
  let voteType: MessageType;
  let term: number;
  if (kind === "pre") {
    r.becomePreCandidate();
    voteType = MessageType.MSG_PRE_VOTE;
    term = r.term + 1;
  } else {
    r.becomeCandidate();
    voteType = MessageType.MSG_VOTE;
    term = r.term;
  }
  if (poll(r, r.id, true) === VoteResult.Won) {
    if (kind === "pre") campaign(r, "real", transfer);
    else r.becomeLeader();
    return;
  }
  const lastIndex = r.log.lastIndex();
  const lastTerm = r.log.lastTerm();
  for (const id of [...r.trk.voters].sort((a, b) => a - b)) {
    if (id === r.id) continue;
    r.send(message({ type: voteType, to: id, term, index: lastIndex, logTerm: lastTerm, context: transfer ? CAMPAIGN_TRANSFER : undefined }));
  }
}

function poll(r: Raft, id: number, granted: boolean): VoteResult {
  r.trk.recordVote(id, granted);
  return r.trk.tallyVotes().result;
}

/**
 * The transport lost its connection to `id`. If that is our leader it has most likely died: stop
 * honouring its lease (so we grant others' votes) and campaign within a few ticks, the voters in
 * id order so that one usually wins outright. Only timing changes; a live leader's next
 * heartbeat restores everything, and safety never rests on it.
 */
export function leaderDisconnected(r: Raft, id: number): void {
  if (r.role !== Role.Follower || r.lead !== id || id === NONE || !r.promotable()) return;
  r.lead = NONE;
  const others = [...r.trk.voters].filter((v) => v !== id).sort((a, b) => a - b);
  const wait = 1 + Math.max(0, others.indexOf(r.id)) * DISCONNECT_CAMPAIGN_SPACING;
  r.electionElapsed = Math.max(r.electionElapsed, r.randomizedElectionTimeout - wait);
}

export function stepCandidate(r: Raft, m: Message): void {
  const myResp = r.role === Role.PreCandidate ? MessageType.MSG_PRE_VOTE_RESP : MessageType.MSG_VOTE_RESP;
  switch (m.type) {
    case MessageType.MSG_PROP:
      throw new ProposalDroppedError(`no leader (member ${r.id} is campaigning in term ${r.term}); retry shortly`);
    case MessageType.MSG_APP:
      r.becomeFollower(m.term, m.from);
      handleAppend(r, m);
      return;
    case MessageType.MSG_HEARTBEAT:
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case MessageType.MSG_SNAP:
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case myResp: {
      const result = poll(r, m.from, !m.reject);
      if (result === VoteResult.Won) {
        if (r.role === Role.PreCandidate) campaign(r, "real", false);
        else {
          r.becomeLeader();
          bcastAppend(r);
        }
      } else if (result === VoteResult.Lost) {
        // A rejection at a higher term already made us a follower at that term.
        r.becomeFollower(r.term, NONE);
      }
      return;
    }
  }
}

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MSG_PROP:
      if (r.lead === NONE) throw new ProposalDroppedError(`no leader known to member ${r.id} in term ${r.term}; retry shortly`);
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.MSG_APP:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppend(r, m);
      return;
    case MessageType.MSG_HEARTBEAT:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case MessageType.MSG_SNAP:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case MessageType.MSG_TRANSFER_LEADER:
      if (r.lead !== NONE) r.send({ ...m, to: r.lead });
      return;
    case MessageType.MSG_TIMEOUT_NOW:
      hup(r, true);
      return;
    case MessageType.MSG_READ_INDEX:
      if (r.lead !== NONE) r.send({ ...m, to: r.lead });
      return;
    case MessageType.MSG_READ_INDEX_RESP:
      r.readStates.push({ index: m.index, context: m.context });
      return;
  }
}

function handleAppend(r: Raft, m: Message): void {
  invariant(r.role !== Role.Leader, () => `leader ${r.id} received an append for its own term ${r.term}`);
  if (m.index < r.log.committed) {
    r.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: r.log.committed }));
    return;
  }
  const lastNew = r.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== undefined) {
    r.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: lastNew }));
    return;
  }
  const [hintIndex, hintTerm] = r.log.findConflictByTerm(Math.min(m.index, r.log.lastIndex()), m.logTerm);
  r.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm }));
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.log.commitTo(m.commit);
  r.send(message({ type: MessageType.MSG_HEARTBEAT_RESP, to: m.from, context: m.context }));
}

function handleSnapshot(r: Raft, m: Message): void {
  const s = m.snapshot;
  if (s && r.restore(s)) {
    r.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: r.log.lastIndex() }));
  } else {
    r.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: r.log.committed }));
  }
}
