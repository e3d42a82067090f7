// Raft paper §5.1 (terms) and §5.2 (leader election), plus pre-vote and check-quorum (§9.6).
import { describe, expect, it } from "vitest";
import { MessageType } from "../../../proto/gen/raft.js";
import { Role } from "../../../manager/raft/core/index.js";
import { message } from "../../../manager/raft/core/entries.js";
import { Cluster } from "./cluster.js";

describe("§5.1 terms", () => {
  it("a member that sees a higher term adopts it and follows", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.raft(1).term).toBe(2);
    c.get(1).node.step(message({ type: MessageType.MSG_HEARTBEAT, from: 2, to: 1, term: 5 }));
    expect(c.raft(1).role).toBe(Role.Follower);
    expect(c.raft(1).term).toBe(5);
    expect(c.raft(1).lead).toBe(2);
  });

  it("a message with a stale term is rejected", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.elect(2);
    expect(c.raft(1).term).toBe(3);
    const before = c.raft(1).log.lastIndex();
    c.get(1).node.step(message({ type: MessageType.MSG_APP, from: 3, to: 1, term: 2, index: before, logTerm: 3, entries: [{ term: 2, index: before + 1, type: 0, data: Buffer.from("stale") }] }));
    expect(c.raft(1).log.lastIndex()).toBe(before);
    expect(c.raft(1).term).toBe(3);
  });
});

describe("§5.2 leader election", () => {
  it("a candidate that wins a majority of votes becomes leader and others follow", () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    c.isolate(4);
    c.isolate(5);
    c.elect(1);
    expect(c.raft(1).role).toBe(Role.Leader);
    expect(c.raft(2).lead).toBe(1);
    expect(c.raft(3).lead).toBe(1);
  });

  it("without a majority a candidate does not win", () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    c.isolate(3);
    c.isolate(4);
    c.isolate(5);
    c.elect(1);
    expect(c.raft(1).role).toBe(Role.Candidate);
  });

  it("each member grants at most one vote per term, first come first served", () => {
    const c = new Cluster([1, 2, 3]);
    const n3 = c.get(3).node;
    n3.step(message({ type: MessageType.MSG_VOTE, from: 1, to: 3, term: 2, index: 1, logTerm: 1 }));
    n3.step(message({ type: MessageType.MSG_VOTE, from: 2, to: 3, term: 2, index: 1, logTerm: 1 }));
    const votes = n3.ready().messages.filter((m) => m.type === MessageType.MSG_VOTE_RESP);
    expect(votes.map((m) => [m.to, m.reject])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(c.raft(3).vote).toBe(1);
  });

  it("a split vote elects nobody and a new term's election follows", () => {
    const c = new Cluster([1, 2, 3, 4]);
    c.isolate(3);
    c.isolate(4);
    c.get(1).node.campaign();
    c.get(2).node.campaign();
    c.settle();
    expect(c.raft(1).role).toBe(Role.Candidate);
    expect(c.raft(2).role).toBe(Role.Candidate);
    expect(c.raft(1).term).toBe(2);
    c.heal();
    for (let i = 0; i < 40 && ![1, 2, 3, 4].some((id) => c.raft(id).role === Role.Leader); i++) {
      for (const id of [1, 2, 3, 4]) c.tick(id);
      c.settle();
    }
    const leaders = [1, 2, 3, 4].filter((id) => c.raft(id).role === Role.Leader);
    expect(leaders).toHaveLength(1);
    expect(c.raft(leaders[0]!).term).toBeGreaterThan(2);
  });

  it("election timeouts are randomised in [electionTick, 2 × electionTick)", () => {
    for (const [r, expected] of [
      [0, 10],
      [0.99, 19],
    ] as const) {
      const c = new Cluster([1, 2, 3], { random: () => r });
      c.isolate(1);
      let ticks = 0;
      while (c.raft(1).role === Role.Follower) {
        c.tick(1);
        ticks++;
      }
      expect(ticks).toBe(expected);
    }
  });

  it("a candidate steps down when it hears from a leader of its term", () => {
    const c = new Cluster([1, 2, 3]);
    c.isolate(1);
    c.elect(1);
    expect(c.raft(1).role).toBe(Role.Candidate);
    c.get(1).node.step(message({ type: MessageType.MSG_HEARTBEAT, from: 2, to: 1, term: 2 }));
    expect(c.raft(1).role).toBe(Role.Follower);
    expect(c.raft(1).lead).toBe(2);
  });

  it("a candidate steps down on a vote response with a higher term", () => {
    const c = new Cluster([1, 2, 3]);
    c.isolate(1);
    c.elect(1);
    c.get(1).node.step(message({ type: MessageType.MSG_VOTE_RESP, from: 2, to: 1, term: 7, reject: true }));
    expect(c.raft(1).role).toBe(Role.Follower);
    expect(c.raft(1).term).toBe(7);
  });

  it("proposals are dropped with a reason when there is no leader", () => {
    const c = new Cluster([1, 2, 3]);
    expect(() => c.get(1).node.propose(Buffer.from("x"))).toThrow(/no leader/);
  });
});

describe("pre-vote", () => {
  it("a partitioned member does not raise its term and cannot disrupt the leader on return", () => {
    const c = new Cluster([1, 2, 3], { preVote: true });
    c.elect(1);
    const term = c.raft(1).term;
    c.isolate(3);
    for (let i = 0; i < 100; i++) {
      c.tick(3);
      c.settle();
    }
    expect(c.raft(3).term).toBe(term);
    expect(c.raft(3).role).toBe(Role.PreCandidate);
    c.heal();
    c.tick(1);
    c.settle();
    expect(c.raft(1).role).toBe(Role.Leader);
    expect(c.raft(1).term).toBe(term);
    expect(c.raft(3).lead).toBe(1);
  });
});

describe("check-quorum", () => {
  it("a leader that cannot reach a quorum steps down", () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.elect(1);
    c.isolate(1);
    for (let i = 0; i < 21; i++) c.tick(1);
    c.settle();
    expect(c.raft(1).role).toBe(Role.Follower);
  });

  it("followers that hear from a live leader ignore vote requests (leader lease)", () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.elect(1);
    const term = c.raft(2).term;
    c.get(3).node.campaign();
    c.settle();
    expect(c.raft(3).role).toBe(Role.Candidate);
    expect(c.raft(2).term).toBe(term);
    expect(c.raft(1).role).toBe(Role.Leader);
  });
});

describe("a leader whose connection dropped", () => {
  const opts = { checkQuorum: true, preVote: true, electionTick: 30 };

  it("is replaced within a few ticks: the lowest id campaigns first and the others vote for it", () => {
    const c = new Cluster([1, 2, 3, 4, 5], opts);
    c.elect(3);
    c.isolate(3);
    for (const id of [1, 2, 4, 5]) c.get(id).node.reportDisconnected(3);
    let ticks = 0;
    while (![1, 2, 4, 5].some((id) => c.raft(id).role === Role.Leader) && ticks < 30) {
      for (const id of [1, 2, 4, 5]) c.tick(id);
      c.settle();
      ticks++;
    }
    expect(c.raft(1).role).toBe(Role.Leader);
    expect(ticks).toBeLessThanOrEqual(2);
    expect(c.raft(1).term).toBe(c.raft(3).term + 1); // one election, no split vote
  });

  it("keeps asking while another follower still honours the lease, and only the lowest id campaigns early", () => {
    const c = new Cluster([1, 2, 3], opts);
    c.elect(3);
    c.isolate(3);
    c.get(1).node.reportDisconnected(3); // 2 has not noticed yet
    for (let i = 0; i < 3; i++) {
      c.tick(1);
      c.settle();
    }
    expect(c.raft(1).role).toBe(Role.PreCandidate); // 2 ignored it: it heard from 3 within the lease
    c.get(2).node.reportDisconnected(3);
    for (let i = 0; i < 6; i++) {
      c.tick(1);
      c.tick(2);
      c.settle();
    }
    expect(c.raft(1).role).toBe(Role.Leader);
    expect(c.raft(2).lead).toBe(1);
  });

  it("is replaced by the next id after a third of an election timeout when the lowest id does not campaign", () => {
    const c = new Cluster([1, 2, 3], opts);
    c.elect(3);
    c.isolate(3);
    for (const id of [1, 2]) c.get(id).node.reportDisconnected(3);
    let ticks = 0;
    while (c.raft(2).role !== Role.Leader && ticks < 30) {
      c.tick(2); // 1 is stalled: it never ticks, but it answers
      c.settle();
      ticks++;
    }
    expect(c.raft(2).role).toBe(Role.Leader);
    expect(ticks).toBe(10);
  });

  it("is not disrupted when only one follower's connection dropped", () => {
    const c = new Cluster([1, 2, 3], opts);
    c.elect(1);
    const term = c.raft(1).term;
    c.get(2).node.reportDisconnected(1);
    for (let i = 0; i < 5; i++) {
      c.tick(2);
      c.settle();
    }
    expect(c.raft(1).role).toBe(Role.Leader);
    expect(c.raft(1).term).toBe(term);
    c.tick(1, 5);
    c.settle();
    expect(c.raft(2).lead).toBe(1); // the next heartbeat restores it
  });
});
