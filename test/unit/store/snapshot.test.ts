import { describe, expect, it } from "vitest";
import { StoreSnapshot, TaskState } from "../../../proto/gen/cluster.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { byTaskState } from "../../../manager/store/types.js";

describe("memory store snapshots", () => {
  it("restore an encoded snapshot with its indexes and version", async () => {
    const a = new MemoryStore();
    const sid = await a.update((tx) => tx.create("service", { id: "", specVersion: 1, spec: { annotations: { name: "web", labels: {} } } }));
    await a.update((tx) =>
      tx.create("task", {
        id: "",
        serviceId: sid,
        slot: 1,
        nodeId: "",
        specVersion: 1,
        desiredState: TaskState.TASK_STATE_RUNNING,
        status: { state: TaskState.TASK_STATE_PENDING, timestamp: 0, message: "", err: "", pendingReason: "", restartNotBefore: 0 },
        networks: [],
        assignedGenericResources: [],
      }),
    );
    const b = new MemoryStore();
    b.restore(StoreSnapshot.decode(StoreSnapshot.encode(a.snapshot()).finish()));
    expect(b.version).toBe(a.version);
    expect(b.view((tx) => tx.find("task", byTaskState(TaskState.TASK_STATE_PENDING)).length)).toBe(1);
    await expect(b.update((tx) => tx.create("service", { id: "", specVersion: 1, spec: { annotations: { name: "web", labels: {} } } }))).rejects.toThrow("already exists");
  });
});
