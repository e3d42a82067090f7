// Raft paper §6 (cluster membership changes), one change at a time, with learners.
import { describe, expect, it } from "vitest";
import { ConfChange, ConfChangeType, EntryType } from "../../../proto/gen/raft.js";
import { MemoryStorage, ProposalDroppedError, RawNode, Role } from "../../../manager/raft/core/index.js";
import { Cluster } from "./cluster.js";

function heartbeat(c: Cluster, leader: number, rounds = 3): void {
  for (let i = 0; i < rounds; i++) {
    c.tick(leader);
    c.settle();
  }
}

describe("§6 membership changes", () => {
  it("a learner catches up without voting and is then promoted to voter", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "a");
    c.addFresh(4);
    c.confChange(1, ConfChangeType.CONF_ADD_LEARNER, 4);
    expect(c.raft(1).trk.confState()).toEqual({ voters: [1, 2, 3], learners: [4] });
    heartbeat(c, 1);
    expect(c.data(4)).toEqual(["a"]);
    for (let i = 0; i < 50; i++) c.tick(4);
    c.settle();
    expect(c.raft(4).role).toBe(Role.Follower);
    // The learner does not count: two of three voters still commit.
    c.isolate(3);
    c.propose(1, "b");
    expect(c.data(1)).toEqual(["a", "b"]);
    c.heal();
    c.confChange(1, ConfChangeType.CONF_ADD_NODE, 4);
    heartbeat(c, 1);
    expect(c.raft(1).trk.confState()).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    // Now three of four voters are needed.
    c.isolate(3);
    c.isolate(4);
    const committed = c.raft(1).log.committed;
    c.propose(1, "c");
    expect(c.raft(1).log.committed).toBe(committed);
  });

  it("removing a member shrinks the quorum", () => {
    const c = new Cluster([1, 2, 3, 4]);
    c.elect(1);
    c.confChange(1, ConfChangeType.CONF_REMOVE_NODE, 4);
    heartbeat(c, 1);
    expect(c.raft(1).trk.confState().voters).toEqual([1, 2, 3]);
    c.isolate(3);
    c.isolate(4);
    c.propose(1, "a");
    expect(c.data(1)).toEqual(["a"]);
  });

  it("removing the leader makes it step down and the rest elect a new leader", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.confChange(1, ConfChangeType.CONF_REMOVE_NODE, 1);
    expect(c.raft(1).role).toBe(Role.Follower);
    heartbeat(c, 1);
    for (let i = 0; i < 40 && c.raft(2).role !== Role.Leader && c.raft(3).role !== Role.Leader; i++) {
      for (const id of [1, 2, 3]) c.tick(id);
      c.settle();
    }
    expect([c.raft(2).role, c.raft(3).role]).toContain(Role.Leader);
    expect(c.raft(1).role).toBe(Role.Follower);
  });

  it("the leader refuses a second membership change while one is pending", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.addFresh(4);
    c.addFresh(5);
    c.isolate(2);
    c.isolate(3);
    c.get(1).node.proposeConfChange({ id: 0, type: ConfChangeType.CONF_ADD_LEARNER, nodeId: 4, context: Buffer.alloc(0) });
    expect(() => c.get(1).node.proposeConfChange({ id: 0, type: ConfChangeType.CONF_ADD_LEARNER, nodeId: 5, context: Buffer.alloc(0) })).toThrow(ProposalDroppedError);
    c.heal();
    heartbeat(c, 1);
    c.confChange(1, ConfChangeType.CONF_ADD_LEARNER, 5);
    expect(c.raft(1).trk.confState().learners).toEqual([4, 5]);
  });
});

describe("apply-time membership: a candidate's configuration is at most one change behind", () => {
  function memberWithConfChanges(changes: ConfChange[]): RawNode {
    const storage = new MemoryStorage();
    storage.applySnapshot({ data: Buffer.alloc(0), metadata: { index: 1, term: 1, confState: { voters: [1, 2, 3], learners: [] } } });
    storage.append(changes.map((cc, i) => ({ term: 1, index: i + 2, type: EntryType.ENTRY_CONF_CHANGE, data: Buffer.from(ConfChange.encode(cc).finish()) })));
    storage.setHardState({ term: 1, vote: 0, commit: 1 });
    return new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage, applied: 1, preVote: true });
  }
  const add4 = { id: 0, type: ConfChangeType.CONF_ADD_NODE, nodeId: 4, context: Buffer.alloc(0) };
  const remove3 = { id: 0, type: ConfChangeType.CONF_REMOVE_NODE, nodeId: 3, context: Buffer.alloc(0) };

  it("a member holding one conf change it has not applied may campaign", () => {
    const n = memberWithConfChanges([add4]);
    n.campaign();
    expect(n.raft.role).toBe(Role.PreCandidate);
  });

  it("a member holding two it has not applied does not: the first is committed and its votes would count in a stale configuration", () => {
    const n = memberWithConfChanges([add4, remove3]);
    n.campaign();
    expect(n.raft.role).toBe(Role.Follower);
    expect(n.ready().messages).toEqual([]);
  });
});
