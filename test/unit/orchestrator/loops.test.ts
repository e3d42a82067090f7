// The loop wrappers: started on a store, they react to its events with no one calling them.
import { describe, expect, it } from "vitest";
import { TaskState } from "../../../proto/gen/cluster.js";
import { allocate } from "../../../manager/allocator/allocator.js";
import { Orchestrator } from "../../../manager/orchestrator/orchestrator.js";
import { Scheduler } from "../../../manager/scheduler/scheduler.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { node, service } from "../scheduler/fixtures.js";

describe("control loops", () => {
  it("turn a new service into assigned tasks by watching the store", async () => {
    const store = new MemoryStore();
    const errors: unknown[] = [];
    const orchestrator = new Orchestrator(store, { batchDelayMs: 1, onError: (e) => errors.push(e) });
    const scheduler = new Scheduler(store, { batchDelayMs: 1, onError: (e) => errors.push(e) });
    // Stands in for the allocator loop.
    const off = store.subscribe(() => void allocate(store, Date.now()), { kinds: ["task"], actions: ["create"] });
    orchestrator.start();
    scheduler.start();
    try {
      await store.update((tx) => {
        tx.create("node", node("n1"));
        tx.create("node", node("n2"));
      });
      await store.update((tx) => tx.create("service", service("web", { replicas: 4 })));
      await expect
        .poll(() => store.view((tx) => tx.find("task").filter((t) => t.status?.state === TaskState.TASK_STATE_ASSIGNED).length), { timeout: 10_000 })
        .toBe(4);
      expect(errors).toEqual([]);
    } finally {
      off();
      orchestrator.stop();
      scheduler.stop();
    }
  });
});
