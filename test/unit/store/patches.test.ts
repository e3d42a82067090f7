import { describe, expect, it } from "vitest";
import { ChangeSet, RaftChangeSet, StoreActionKind, TaskState, type Task } from "../../../proto/gen/cluster.js";
import { ConflictError, NotFoundError } from "../../../manager/store/errors.js";
import { newTask } from "../../support/store/tasks.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { decodeChangeSet, encodeChangeSet } from "../../../manager/store/patches.js";

const UPDATE = StoreActionKind.STORE_ACTION_UPDATE;

/** A store whose change sets go through the log encoding; `sizes` records each entry's bytes and patches. */
function logStore() {
  const sizes: { bytes: number; patches: number }[] = [];
  const store: MemoryStore = new MemoryStore({
    proposer: {
      propose: async (cs) => {
        const data = encodeChangeSet(cs, store);
        sizes.push({ bytes: data.length, patches: RaftChangeSet.decode(data).taskPatches.length });
        store.apply(decodeChangeSet(data, store));
      },
    },
  });
  return { store, sizes };
}


describe("the Raft log's change sets", () => {
  it("carry a placement or a report as a patch, and rebuild the same task a whole encoding gives", async () => {
    const { store, sizes } = logStore();
    const [a, b] = await store.update((tx) => [tx.create("task", newTask(1)), tx.create("task", newTask(2))]);
    const placed = (t: Task): Task => ({ ...t, nodeId: "n1", status: { ...t.status!, state: TaskState.TASK_STATE_ASSIGNED, timestamp: 2 } });
    // What a whole encoding gives, for comparison: the same update decoded from its full bytes.
    const whole = ChangeSet.decode(ChangeSet.encode({ actions: [{ action: UPDATE, target: { $case: "task", value: placed(store.get("task", a) as Task) } }], timestamp: 5 }).finish()).actions[0].target!.value as Task;
    await store.update((tx) => {
      tx.update("task", placed(tx.get("task", a)!));
      tx.update("task", placed(tx.get("task", b)!));
    });
    expect(sizes[1].patches).toBe(2);
    expect(sizes[1].bytes).toBeLessThan(sizes[0].bytes / 2);
    const got = store.get("task", a) as Task;
    expect({ ...got, meta: undefined }).toEqual({ ...whole, meta: undefined });
    expect(got.meta?.version).toBe(store.version);
    expect(got.meta?.createdAt).toBe((store.get("task", b) as Task).meta?.createdAt);
  });

  it("encode whole an update that changes anything else, and keep every action in its place", async () => {
    const { store, sizes } = logStore();
    const [a, b, c] = await store.update((tx) => [1, 2, 3].map((slot) => tx.create("task", newTask(slot))));
    const events: string[] = [];
    store.subscribe((es) => events.push(...es.map((e) => `${e.action} ${(e.new ?? e.old)!.id}`)));
    await store.update((tx) => {
      const ta = tx.get("task", a)!;
      tx.update("task", { ...ta, nodeId: "n1" }); // a patch
      tx.delete("task", b);
      const tc = tx.get("task", c)!;
      tx.update("task", { ...tc, nodeId: "n2", annotations: { name: "renamed", labels: {} } }); // whole
    });
    expect(sizes[1].patches).toBe(1);
    expect(events).toEqual([`update ${a}`, `delete ${b}`, `update ${c}`]);
    expect((store.get("task", c) as Task).annotations?.name).toBe("renamed");
    expect((store.get("task", a) as Task).nodeId).toBe("n1");
  });

  it("refuse a patch whose task was written or removed since it was read, as a whole update is refused", async () => {
    const { store } = logStore();
    const [a, b] = await store.update((tx) => [tx.create("task", newTask(1)), tx.create("task", newTask(2))]);
    const readA = store.get("task", a) as Task;
    const readB = store.get("task", b) as Task;
    const patch = (t: Task) => encodeChangeSet({ actions: [{ action: UPDATE, target: { $case: "task", value: { ...t, nodeId: "late" } } }], timestamp: 9 }, store);
    const staleA = patch(readA);
    const goneB = patch(readB);
    expect(RaftChangeSet.decode(staleA).taskPatches).toHaveLength(1);
    await store.update((tx) => tx.update("task", { ...tx.get("task", a)!, nodeId: "first" }));
    await store.update((tx) => tx.delete("task", b));
    expect(() => store.apply(decodeChangeSet(staleA, store))).toThrow(ConflictError);
    expect(() => store.apply(decodeChangeSet(goneB, store))).toThrow(NotFoundError);
    expect((store.get("task", a) as Task).nodeId).toBe("first");
  });

  it("encode once the spec that tasks created together hold, and give it back to each of them", async () => {
    const { store, sizes } = logStore();
    const spec = newTask(0).spec;
    const other = { ...spec!, forceUpdate: 1 };
    const ids = await store.update((tx) => [1, 2, 3].map((slot) => tx.create("task", { ...newTask(slot), spec })).concat(tx.create("task", { ...newTask(4), spec: other })));
    const single = await store.update((tx) => tx.create("task", { ...newTask(5), spec }));
    // Four whole tasks would be four times one; three of them carry one spec between them.
    expect(sizes[0].bytes).toBeLessThan(sizes[1].bytes * 3.2);
    const got = ids.map((id) => store.get("task", id) as Task);
    expect(got.map((t) => t.spec)).toEqual([spec, spec, spec, other]);
    expect(got[0].spec).toBe(got[2].spec);
    expect(got.map((t) => t.slot)).toEqual([1, 2, 3, 4]);
    expect((store.get("task", single) as Task).spec).toEqual(spec);
  });

  it("read a plain ChangeSet's bytes (an entry written before patches) unchanged", () => {
    const store = new MemoryStore();
    const cs = ChangeSet.decode(ChangeSet.encode({ actions: [{ action: StoreActionKind.STORE_ACTION_CREATE, target: { $case: "task", value: { ...newTask(1), id: "t1" } } }], timestamp: 3 }).finish());
    expect(decodeChangeSet(ChangeSet.encode(cs).finish(), store)).toEqual(cs);
  });
});
