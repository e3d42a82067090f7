// Leadership transfer (thesis §3.10) and ReadIndex linearizable reads (thesis §6.4).
import { describe, expect, it } from "vitest";
import { MessageType } from "../../../proto/gen/raft.js";
import { ProposalDroppedError, Role } from "../../../manager/raft/core/index.js";
import { Cluster } from "./cluster.js";

describe("leadership transfer", () => {
  it("an up-to-date transferee takes over at once with MSG_TIMEOUT_NOW", () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true, preVote: true });
    c.elect(1);
    c.get(1).node.transferLeader(2);
    c.settle();
    expect(c.raft(2).role).toBe(Role.Leader);
    expect(c.raft(1).role).toBe(Role.Follower);
    expect(c.raft(1).lead).toBe(2);
  });

  it("a lagging transferee is caught up first, and proposals are dropped meanwhile", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    c.propose(1, "a");
    c.get(1).node.transferLeader(3);
    c.settle();
    expect(c.raft(1).role).toBe(Role.Leader);
    expect(() => c.get(1).node.propose(Buffer.from("b"))).toThrow(/transferred/);
    c.heal();
    c.tick(1);
    c.settle();
    expect(c.raft(3).role).toBe(Role.Leader);
  });

  it("a transfer that does not finish within an election timeout is abandoned", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    c.get(1).node.transferLeader(3);
    for (let i = 0; i < 10; i++) c.tick(1);
    c.settle();
    expect(c.raft(1).leadTransferee).toBe(0);
    expect(() => c.get(1).node.propose(Buffer.from("ok"))).not.toThrow(ProposalDroppedError);
  });
});

describe("ReadIndex", () => {
  it("the leader answers with its commit index after a heartbeat round with a quorum", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "a");
    c.delivered = [];
    c.get(1).node.readIndex(Buffer.from("r1"));
    c.settle();
    expect(c.delivered.some((m) => m.type === MessageType.MSG_HEARTBEAT && m.context.toString() === "r1")).toBe(true);
    expect(c.get(1).readStates).toEqual([{ index: c.raft(1).log.committed, context: Buffer.from("r1") }]);
  });

  it("a follower's read is forwarded to the leader and answered to the follower", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "a");
    c.get(2).node.readIndex(Buffer.from("r2"));
    c.settle();
    expect(c.get(2).readStates.map((r) => [r.index, r.context.toString()])).toEqual([[c.raft(1).log.committed, "r2"]]);
  });

  it("a leader cut off from the quorum does not answer reads", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(1);
    c.get(1).node.readIndex(Buffer.from("r3"));
    c.settle();
    expect(c.get(1).readStates).toEqual([]);
  });

  it("a new leader holds reads until an entry of its own term commits", () => {
    const c = new Cluster([1, 2, 3]);
    c.filters.push((m) => m.type === MessageType.MSG_APP_RESP);
    c.elect(1);
    c.get(1).node.readIndex(Buffer.from("r4"));
    c.settle();
    expect(c.get(1).readStates).toEqual([]);
    c.heal();
    c.tick(1);
    c.settle();
    expect(c.get(1).readStates.map((r) => r.context.toString())).toEqual(["r4"]);
    expect(c.get(1).readStates[0]!.index).toBe(c.raft(1).log.committed);
  });
});
