// Raft paper §5.3 (log replication) and §5.4 (safety).
import { describe, expect, it } from "vitest";
import { MessageType } from "../../../proto/gen/raft.js";
import { Role } from "../../../manager/raft/core/index.js";
import { message } from "../../../manager/raft/core/entries.js";
import { Cluster } from "./cluster.js";

describe("§5.3 log replication", () => {
  it("the leader commits an entry once a majority stored it, and followers apply it", () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    c.elect(1);
    c.isolate(4);
    c.isolate(5);
    c.propose(1, "a");
    expect(c.data(1)).toEqual(["a"]);
    c.tick(1);
    c.settle();
    expect(c.data(2)).toEqual(["a"]);
    expect(c.data(3)).toEqual(["a"]);
    expect(c.data(4)).toEqual([]);
  });

  it("an entry stored by a minority is not committed", () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    c.elect(1);
    const committed = c.raft(1).log.committed;
    c.isolate(3);
    c.isolate(4);
    c.isolate(5);
    c.propose(1, "a");
    expect(c.raft(1).log.committed).toBe(committed);
  });

  it("a follower rejects an append whose previous entry does not match, with a hint", () => {
    const c = new Cluster([1, 2, 3]);
    const n2 = c.get(2).node;
    n2.step(message({ type: MessageType.MSG_APP, from: 1, to: 2, term: 2, index: 5, logTerm: 2, entries: [] }));
    const resp = n2.ready().messages.find((m) => m.type === MessageType.MSG_APP_RESP)!;
    expect(resp.reject).toBe(true);
    expect(resp.rejectHint).toBe(1);
  });

  it("a follower with a conflicting log is repaired by the new leader", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "a");
    c.isolate(1);
    for (const x of ["lost1", "lost2", "lost3"]) c.get(1).node.propose(Buffer.from(x));
    c.settle();
    c.heal();
    c.isolate(1);
    c.elect(2);
    c.propose(2, "b");
    c.heal();
    c.tick(2);
    c.settle();
    c.tick(2);
    c.settle();
    expect(c.raft(1).role).toBe(Role.Follower);
    for (const id of [1, 2, 3]) expect(c.data(id)).toEqual(["a", "b"]);
    const terms = (id: number) => Array.from({ length: c.raft(id).log.lastIndex() }, (_, i) => c.raft(id).log.term(i + 1));
    expect(terms(1)).toEqual(terms(2));
    expect(terms(3)).toEqual(terms(2));
  });

  it("the leader batches entries up to maxSizePerMsg and pipelines within maxInflightMsgs", () => {
    const c = new Cluster([1, 2, 3], { maxSizePerMsg: 100, maxInflightMsgs: 2 });
    c.elect(1);
    c.filters.push((m) => m.type === MessageType.MSG_APP_RESP);
    for (let i = 0; i < 10; i++) c.get(1).node.propose(Buffer.alloc(50, i));
    c.delivered = [];
    c.settle();
    const apps = c.delivered.filter((m) => m.type === MessageType.MSG_APP && m.to === 2 && m.entries.length > 0);
    expect(apps.length).toBeLessThanOrEqual(2);
    for (const a of apps) expect(a.entries.length).toBeLessThanOrEqual(2);
    c.heal();
    c.tick(1);
    c.settle();
    c.tick(1);
    c.settle();
    expect(c.raft(2).log.lastIndex()).toBe(c.raft(1).log.lastIndex());
  });
});

describe("§5.4 safety", () => {
  it("vote restriction: a member whose log is less up-to-date cannot win", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    c.propose(1, "a");
    c.heal();
    c.filters.push((m) => m.type === MessageType.MSG_APP || m.type === MessageType.MSG_HEARTBEAT);
    c.elect(3);
    expect(c.raft(3).role).not.toBe(Role.Leader);
    c.heal();
    c.filters.push((m) => m.from === 3 || m.to === 3);
    c.elect(2);
    expect(c.raft(2).role).toBe(Role.Leader);
  });

  it("Figure 8: a leader does not commit an entry of an older term by counting replicas", () => {
    // S1 led term 2 and put entry 3 on S2; S5 led term 3 and wrote its own entry 3. S1 is
    // elected again in term 4 and copies entry 3 (term 2) to a majority: it must not count
    // that as committed, or S5 could still win and overwrite it.
    const c = new Cluster([]);
    const voters = [1, 2, 3, 4, 5];
    c.add(1, voters, [], {}, [2, 2], 3);
    c.add(2, voters, [], {}, [2, 2], 3);
    c.add(3, voters, [], {}, [2], 3);
    c.add(4, voters, [], {}, [2], 3);
    c.add(5, voters, [], {}, [2, 3], 3);
    c.filters.push((m) => m.type === MessageType.MSG_APP || m.type === MessageType.MSG_APP_RESP);
    c.elect(1);
    expect(c.raft(1).role).toBe(Role.Leader);
    expect(c.raft(1).term).toBe(4);
    const n1 = c.get(1).node;
    for (const from of [2, 3]) n1.step(message({ type: MessageType.MSG_APP_RESP, from, to: 1, term: 4, index: 3 }));
    expect(c.raft(1).log.committed).toBe(1);
    for (const from of [2, 3]) n1.step(message({ type: MessageType.MSG_APP_RESP, from, to: 1, term: 4, index: 4 }));
    expect(c.raft(1).log.committed).toBe(4);
  });

  it("a committed entry is present in every later leader's log (leader completeness)", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "a");
    c.isolate(1);
    for (let i = 0; i < 40 && c.raft(2).role !== Role.Leader && c.raft(3).role !== Role.Leader; i++) {
      c.tick(2);
      c.tick(3);
      c.settle();
    }
    const leader = c.raft(2).role === Role.Leader ? 2 : 3;
    expect(c.raft(leader).role).toBe(Role.Leader);
    c.propose(leader, "b");
    expect(c.data(leader)).toEqual(["a", "b"]);
  });
});

describe("thesis §10.2.1 the leader writes its log in parallel with replicating it", () => {
  it("a leader's appends may go out before its own write; a follower's answers wait for its write", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.get(1).node.propose(Buffer.from("a"));
    const lead = c.get(1).node.ready();
    expect(lead.entries).toHaveLength(1);
    expect(lead.messages.every((m) => m.type === MessageType.MSG_APP)).toBe(true);
    expect(lead.messagesBeforePersist).toBe(true);
    const n2 = c.get(2).node;
    n2.step(lead.messages.find((m) => m.to === 2)!);
    const follower = n2.ready();
    expect(follower.messages.map((m) => m.type)).toEqual([MessageType.MSG_APP_RESP]);
    expect(follower.messagesBeforePersist).toBe(false);
  });

  it("the leader counts its own copy toward commit only once it reports it persisted", () => {
    const c = new Cluster([1, 2, 3, 4, 5]);
    c.elect(1);
    const before = c.raft(1).log.committed;
    c.get(1).node.propose(Buffer.from("a"));
    const rd = c.get(1).node.ready(); // the leader's write is under way
    for (const to of [2, 3]) {
      const n = c.get(to).node;
      n.step(rd.messages.find((m) => m.to === to)!);
      const written = n.ready();
      c.get(to).storage.append(written.entries);
      n.advance();
      for (const m of written.messages) c.get(1).node.step(m);
    }
    // Two followers of five hold it: a majority only with the leader's copy, which is not on disk yet.
    expect(c.raft(1).log.committed).toBe(before);
    c.get(1).storage.append(rd.entries);
    c.get(1).node.advance();
    expect(c.raft(1).log.committed).toBe(before + 1);
  });
});
