// Many independent writes in change sets in flight together: all land, and a change set refused
// for a race hands back its items (the others are kept).
import { describe, expect, it } from "vitest";
import { TaskState, type Task } from "../../../proto/gen/cluster.js";
import { writeInChunks } from "../../../manager/store/chunks.js";
import { MemoryStore } from "../../../manager/store/memory.js";

const task = (id: string): Task =>
  ({ id, serviceId: "s", slot: Number(id.slice(1)), nodeId: "", specVersion: 1, desiredState: TaskState.TASK_STATE_RUNNING, status: { state: TaskState.TASK_STATE_PENDING, timestamp: 0, message: "", err: "", pendingReason: "", restartNotBefore: 0 }, networks: [], assignedGenericResources: [] }) as Task;

describe("writeInChunks", () => {
  it("writes every item, in change sets of the given size with several in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const sizes: number[] = [];
    const store: MemoryStore = new MemoryStore({
      proposer: {
        propose: async (cs) => {
          sizes.push(cs.actions.length);
          most = Math.max(most, ++inFlight);
          await new Promise((r) => setTimeout(r, 5));
          inFlight--;
          store.apply(cs);
        },
      },
    });
    const ids = Array.from({ length: 25 }, (_, i) => `t${i + 1}`);
    const r = await writeInChunks(store, ids, (tx, id) => void tx.create("task", task(id)), { size: 4, inFlight: 3 });
    expect(r.refused).toEqual([]);
    expect(store.view((tx) => tx.find("task").length)).toBe(25);
    expect(Math.max(...sizes)).toBe(4);
    expect(most).toBe(3);
  });

  it("hands back the items of a change set refused because another writer got there first", async () => {
    // Change sets apply after the delay given for them, in turn: the other writer's lands first.
    const delays: number[] = [];
    const store: MemoryStore = new MemoryStore({ proposer: { propose: async (cs) => (await new Promise((r) => setTimeout(r, delays.shift() ?? 0)), void store.apply(cs)) } });
    await store.update((tx) => ["t1", "t2", "t3", "t4"].forEach((id) => tx.create("task", task(id))));
    delays.push(20, 20, 0);
    const assign = (tx: Parameters<Parameters<typeof store.update>[0]>[0], id: string) => {
      const t = tx.get("task", id)!;
      tx.update("task", { ...t, nodeId: "n1", status: { ...t.status!, state: TaskState.TASK_STATE_ASSIGNED } });
    };
    const racing = writeInChunks(store, ["t1", "t2", "t3", "t4"], assign, { size: 2, inFlight: 2 });
    // Another writer's change to t3 lands while both change sets are in flight.
    await store.update((tx) => void tx.update("task", { ...tx.get("task", "t3")!, annotations: { name: "web.3", labels: {} } }));
    const r = await racing;
    expect(r.refused.sort()).toEqual(["t3", "t4"]);
    expect(r.errors).toHaveLength(1);
    expect(store.view((tx) => ["t1", "t2", "t3", "t4"].map((id) => tx.get("task", id)!.nodeId))).toEqual(["n1", "n1", "", ""]);
  });
});
