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
 * After the leader's connection dropped, the campaigner asks again this often (in ticks) until an
 * election timeout has passed: another follower may not have noticed yet and still honour the
 * lease, ignoring the first request.
 */
export const DISCONNECT_RETRY_TICKS = 3;

export function hup(r: Raft, transfer: boolean): void {
  if (r.role === Role.Leader || !r.promotable()) return;
  if (!mayCampaign(r)) return;
  campaign(r, r.preVote && !transfer ? "pre" : "real", transfer);
}

/**
 * Membership takes effect when a conf change is applied, so a candidate counts votes with the
 * configuration it has applied. That is safe only while it is at most one change behind the
 * newest one committed anywhere (consecutive configurations share a member in every pair of
 * majorities). So a member does not campaign while it holds a committed conf change it has not
 * applied yet, nor while its log holds two or more conf changes it has not applied: the first of
 * those is then committed, though it may not know it (etcd-io/etcd#7625 sets out the argument).
 */
function mayCampaign(r: Raft): boolean {
  const { applied, committed } = r.log;
  const last = r.log.lastIndex();
  if (applied >= last) return true;
  let ents;
  try {
    ents = r.log.slice(applied + 1, last + 1, Infinity);
  } catch {
    return true; // the tail is compacted into a snapshot still being installed: nothing unapplied to count
  }
  let pending = 0;
  for (const e of ents) {
    if (e.type !== EntryType.ENTRY_CONF_CHANGE) continue;
    if (e.index <= committed || ++pending >= 2) return false;
  }
  return true;
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
 * honouring its lease, so we grant another's vote. The lowest-id voter among the rest campaigns
 * at the next tick and keeps asking (DISCONNECT_RETRY_TICKS) for an election timeout, in case
 * another follower has not noticed yet. The others hold back a third of an election timeout (one
 * more retry interval per rank) and campaign only if no vote request came meanwhile, so the fast
 * path does not split the vote, yet does not depend on the lowest id having noticed. Only timing
 * changes: a live leader's next message restores everything, and safety never rests on it.
 */
export function leaderDisconnected(r: Raft, id: number): void {
  if (r.role !== Role.Follower || r.lead !== id || id === NONE || !r.promotable()) return;
  r.lead = NONE;
  const rank = [...r.trk.voters]
    .filter((v) => v !== id)
    .sort((a, b) => a - b)
    .indexOf(r.id);
  let wait = 1;
  if (rank === 0) r.quickCampaigns = Math.ceil(r.electionTimeout / DISCONNECT_RETRY_TICKS);
  else wait = Math.ceil(r.electionTimeout / 3) + (rank - 1) * DISCONNECT_RETRY_TICKS;
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
      r.heardFromLeader(m.from);
      handleAppend(r, m);
      return;
    case MessageType.MSG_HEARTBEAT:
      r.heardFromLeader(m.from);
      handleHeartbeat(r, m);
      return;
    case MessageType.MSG_SNAP:
      r.heardFromLeader(m.from);
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
