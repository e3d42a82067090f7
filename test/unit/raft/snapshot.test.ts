// Raft paper §7 (log compaction): snapshots, and catching a lagging follower up from one.
import { describe, expect, it } from "vitest";
import { EntryType, MessageType } from "../../../proto/gen/raft.js";
import { CompactedError, MemoryStorage, SnapshotOutOfDateError, UnavailableError } from "../../../manager/raft/core/index.js";
import { Cluster } from "./cluster.js";

describe("§7 log compaction", () => {
  it("a follower behind the compacted log catches up from a snapshot", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 10; i++) c.propose(1, `v${i}`);
    const leader = c.get(1);
    const applied = leader.node.raft.log.applied;
    leader.storage.createSnapshot(applied, { voters: [1, 2, 3], learners: [] }, Buffer.from("state"));
    leader.storage.compact(applied);
    c.heal();
    c.delivered = [];
    for (let i = 0; i < 3; i++) {
      c.tick(1);
      c.settle();
    }
    expect(c.delivered.some((m) => m.type === MessageType.MSG_SNAP && m.to === 3)).toBe(true);
    expect(c.get(3).storage.snapshot().metadata!.index).toBe(applied);
    expect(c.raft(3).log.committed).toBe(c.raft(1).log.committed);
    expect(c.raft(1).trk.progress.get(3)!.state).toBe("replicate");
    c.propose(1, "after");
    c.tick(1);
    c.settle();
    expect(c.data(3)).toEqual(["after"]);
  });

  it("a failed snapshot send returns the follower to probing", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    const leader = c.get(1);
    const applied = leader.node.raft.log.applied;
    leader.storage.createSnapshot(applied, { voters: [1, 2, 3], learners: [] }, Buffer.alloc(0));
    leader.storage.compact(applied);
    c.heal();
    c.dropType(MessageType.MSG_SNAP);
    c.tick(1);
    c.settle();
    expect(c.raft(1).trk.progress.get(3)!.state).toBe("snapshot");
    leader.node.reportSnapshot(3, false);
    expect(c.raft(1).trk.progress.get(3)!.state).toBe("probe");
  });

  it("MemoryStorage compacts, answers ranges and refuses stale snapshots", () => {
    const s = new MemoryStorage();
    s.append([3, 4, 5].map((i) => ({ index: i - 2, term: 1, type: EntryType.ENTRY_NORMAL, data: Buffer.alloc(10) })));
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(3);
    expect(s.entries(1, 4, 30)).toHaveLength(1);
    expect(s.entries(1, 4, Infinity)).toHaveLength(3);
    expect(() => s.term(4)).toThrow(UnavailableError);
    s.createSnapshot(2, { voters: [1], learners: [] }, Buffer.from("x"));
    s.compact(2);
    expect(s.firstIndex()).toBe(3);
    expect(s.term(2)).toBe(1);
    expect(() => s.entries(2, 3, Infinity)).toThrow(CompactedError);
    expect(() => s.applySnapshot({ data: Buffer.alloc(0), metadata: { index: 1, term: 1, confState: { voters: [1], learners: [] } } })).toThrow(SnapshotOutOfDateError);
    expect(() => s.compact(3)).toThrow(/snapshot/);
  });
});
