// Errors a caller of RaftNode can act on: forward to the leader, retry, or give up.

export class NotLeaderError extends Error {
  constructor(
    readonly leaderId: number,
    readonly leader?: { raftAddress: string; clientAddress?: string },
  ) {
    super(leaderId ? `raft: not the leader; forward to member ${leaderId}${leader ? ` at ${leader.clientAddress ?? leader.raftAddress}` : ""}` : "raft: no leader elected yet; retry shortly");
  }
}

export class ProposalTimeoutError extends Error {
  constructor(ms: number) {
    super(`raft: not applied within ${ms} ms (the write may still commit); retry or check cluster health`);
  }
}

/** Leadership moved while the proposal was in flight: it may or may not be applied. */
export class LeadershipLostError extends Error {
  constructor() {
    super("raft: leadership changed before the proposal was applied (it may still commit); retry against the new leader");
  }
}

export class StoppedError extends Error {
  constructor() {
    super("raft: member is stopped");
  }
}
