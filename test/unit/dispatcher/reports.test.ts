// The dispatcher never loses an agent's report: a batch refused because another writer changed
// one of its tasks meanwhile is written again.
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { NodeRole, TaskState, type Task } from "../../../proto/gen/cluster.js";
import type { AgentMessage, ManagerMessage } from "../../../proto/gen/swarm.js";
import { Dispatcher } from "../../../manager/dispatcher/dispatcher.js";
import { MemoryStore } from "../../../manager/store/memory.js";

class FakeCall extends EventEmitter {
  readonly sent: ManagerMessage[] = [];
  write(m: ManagerMessage): boolean {
    this.sent.push(m);
    return true;
  }
  end(): void {}
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("dispatcher reports", () => {
  it("writes again a report whose batch lost a race with another writer", async () => {
    // Change sets apply 20 ms after they are proposed, as after a Raft round trip: room for races.
    const store: MemoryStore = new MemoryStore({ proposer: { propose: async (cs) => (await sleep(20), void store.apply(cs)) } });
    await store.update((tx) => {
      tx.create("node", { id: "n1", spec: { annotations: { name: "", labels: {} }, role: NodeRole.NODE_ROLE_WORKER, availability: 0 }, status: { state: 2, message: "", addr: "" }, membership: 1 });
      tx.create("task", { id: "t1", serviceId: "s", slot: 1, nodeId: "n1", specVersion: 1, desiredState: TaskState.TASK_STATE_RUNNING, status: { state: TaskState.TASK_STATE_ASSIGNED, timestamp: 0, message: "", err: "", pendingReason: "", restartNotBefore: 0 }, networks: [], assignedGenericResources: [] } as Task);
    });
    const d = new Dispatcher({ store, managers: () => [] });
    d.start();
    const call = new FakeCall();
    d.session(call as never);
    call.emit("data", { msg: { $case: "hello", value: { nodeId: "n1", addr: "", description: undefined } } } as AgentMessage);
    await sleep(50);
    const report = (state: TaskState) => call.emit("data", { msg: { $case: "statuses", value: { updates: [{ taskId: "t1", status: { state, timestamp: 1, message: "", err: "", pendingReason: "", restartNotBefore: 0 } }] } } } as AgentMessage);
    report(TaskState.TASK_STATE_RUNNING);
    // Another writer has a change in flight when the dispatcher reads the task for its batch.
    await sleep(4);
    const other = store.update((tx) => {
      const t = tx.get("task", "t1")!;
      tx.update("task", { ...t, annotations: { name: "web.1", labels: {} } });
    });
    await other;
    for (let i = 0; i < 100 && store.view((tx) => tx.get("task", "t1")!.status!.state) !== TaskState.TASK_STATE_RUNNING; i++) await sleep(20);
    d.stop();
    expect(store.view((tx) => tx.get("task", "t1")!.status!.state)).toBe(TaskState.TASK_STATE_RUNNING);
  });
});
