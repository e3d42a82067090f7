import { describe, expect, it } from "vitest";
import { type ChangeSet, StoreActionKind, StoreSnapshot, TaskState, type Task } from "../../../proto/gen/cluster.js";
import { EntryType } from "../../../proto/gen/raft.js";
import { newTask } from "../../support/store/tasks.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { encodeChangeSet } from "../../../manager/store/patches.js";
import { StoreStateMachine } from "../../../manager/store/raft.js";

// A leader and a follower: the leader applies the change sets it kept, the follower decodes the
// same entry bytes. vitest.config.ts sets SHOAL_CHECK_OWN_APPLY=1, as for every test.


function pair() {
  const leader = new StoreStateMachine(new MemoryStore());
  const follower = new StoreStateMachine(new MemoryStore());
  let index = 0;
  /** Encodes `cs` against the leader's store (as its proposer does) and applies it on both. */
  const commit = (cs: ChangeSet, before?: () => void) => {
    const data = Buffer.from(encodeChangeSet(cs, leader.store));
    before?.();
    const entry = { index: ++index, term: 1, type: EntryType.ENTRY_NORMAL, data };
    return { leader: leader.apply(entry, cs), follower: follower.apply(entry) };
  };
  return { leader, follower, commit };
}

const create = (t: Task): ChangeSet => ({ actions: [{ action: StoreActionKind.STORE_ACTION_CREATE, target: { $case: "task", value: t } }], timestamp: 10 });
const update = (t: Task): ChangeSet => ({ actions: [{ action: StoreActionKind.STORE_ACTION_UPDATE, target: { $case: "task", value: t } }], timestamp: 20 });
const snapshot = (m: StoreStateMachine) => StoreSnapshot.toJSON(m.store.snapshot());

describe("a proposer applying its own change sets", () => {
  it("ends with the store its followers decode from the log, patches included", () => {
    const { leader, follower, commit } = pair();
    expect(commit(create(newTask(1, "t1")))).toEqual({ leader: { version: 1 }, follower: { version: 1 } });
    const stored = leader.store.get("task", "t1") as Task;
    // A placement travels as a patch; the leader keeps its object, the follower rebuilds it.
    const placed = { ...stored, nodeId: "n1", status: { ...stored.status!, state: TaskState.TASK_STATE_ASSIGNED } };
    expect(commit(update(placed))).toEqual({ leader: { version: 2 }, follower: { version: 2 } });
    expect(snapshot(leader)).toEqual(snapshot(follower));
    expect(leader.store.get("task", "t1")).toBe(placed);
  });

  it("refuses alike a write made against a version overtaken before it applied", () => {
    const { leader, follower, commit } = pair();
    commit(create(newTask(1, "t1")));
    const read = leader.store.get("task", "t1") as Task;
    commit(update({ ...read, nodeId: "n1" }));
    const r = commit(update({ ...read, nodeId: "n2" }));
    expect(r.leader).toEqual(r.follower);
    expect("error" in r.leader && r.leader.error.message).toMatch(/version/);
    expect(snapshot(leader)).toEqual(snapshot(follower));
  });

  it("under the check, refuses a change set its writer changed after proposing it", () => {
    const { leader, commit } = pair();
    const t = newTask(1, "t1");
    const r = commit(create(t), () => (t.nodeId = "changed later"));
    expect("error" in r.leader && r.leader.error.message).toMatch(/own entry differs from its log bytes/);
    expect(leader.store.get("task", "t1")).toBeUndefined();
  });

  it("under the check, freezes what it applied, so a later change to a stored object throws", () => {
    const { leader, commit } = pair();
    commit(create(newTask(1, "t1")));
    const stored = leader.store.get("task", "t1") as Task;
    expect(() => {
      stored.status!.state = TaskState.TASK_STATE_RUNNING;
    }).toThrow(TypeError);
  });
});
