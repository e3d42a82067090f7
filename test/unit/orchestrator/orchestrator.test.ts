import { describe, expect, it } from "vitest";
import { NodeAvailability, NodeState, RestartCondition, TaskState, UpdateFailureAction, UpdateState } from "../../../proto/gen/cluster.js";
import { node, service } from "../scheduler/fixtures.js";
import { SimCluster } from "./harness.js";

async function cluster(nodes: number): Promise<SimCluster> {
  const c = new SimCluster();
  c.progress = 1;
  for (let i = 1; i <= nodes; i++) await c.addNode(node(`n${i}`));
  return c;
}
const perNode = (ts: { nodeId: string }[]) => {
  const m = new Map<string, number>();
  for (const t of ts) m.set(t.nodeId, (m.get(t.nodeId) ?? 0) + 1);
  return m;
};

describe("replicated orchestrator", () => {
  it("fills N slots and scales up with new slots", async () => {
    const c = await cluster(3);
    await c.addService(service("web", { replicas: 3 }));
    await c.run(10);
    expect(c.running("web").map((t) => t.slot).sort()).toEqual([1, 2, 3]);
    await c.editService("web", (s) => (s.spec!.mode = { $case: "replicated", value: { replicas: 5 } }));
    await c.run(10);
    expect(c.running("web").map((t) => t.slot).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it("scales down from the nodes holding the most copies", async () => {
    const c = await cluster(2);
    await c.addService(service("web", { replicas: 4 }));
    await c.run(10);
    await c.addNode(node("n3"));
    await c.editService("web", (s) => (s.spec!.mode = { $case: "replicated", value: { replicas: 6 } }));
    await c.run(10);
    // n1 and n2 hold 2 each (2 + the spread of the new ones), n3 holds 2: make n3 lighter first.
    await c.editService("web", (s) => (s.spec!.mode = { $case: "replicated", value: { replicas: 3 } }));
    await c.run(10);
    expect([...perNode(c.running("web")).values()].sort()).toEqual([1, 1, 1]);
  });

  it("removes tasks that are not running yet before running ones", async () => {
    const c = await cluster(1);
    await c.addService(service("web", { replicas: 2 }));
    await c.run(10);
    const before = c.running("web").map((t) => t.id).sort();
    await c.editService("web", (s) => (s.spec!.mode = { $case: "replicated", value: { replicas: 4 } }));
    await c.step(); // slots 3 and 4 exist but are not running
    await c.editService("web", (s) => (s.spec!.mode = { $case: "replicated", value: { replicas: 2 } }));
    await c.run(10);
    expect(c.running("web").map((t) => t.id).sort()).toEqual(before);
  });

  it("moves tasks off a drained node, and off a node that went down", async () => {
    const c = await cluster(3);
    await c.addService(service("web", { replicas: 6 }));
    await c.run(10);
    await c.editNode("n1", (n) => (n.spec!.availability = NodeAvailability.NODE_AVAILABILITY_DRAIN));
    await c.run(10);
    expect(perNode(c.running("web"))).toEqual(new Map([["n2", 3], ["n3", 3]]));
    await c.editNode("n2", (n) => (n.status!.state = NodeState.NODE_STATE_DOWN));
    await c.run(10);
    expect(perNode(c.running("web"))).toEqual(new Map([["n3", 6]]));
  });

  it("restarts a failed task after the delay, up to max attempts", async () => {
    const c = await cluster(1);
    await c.addService(service("job", { replicas: 1, restart: { condition: RestartCondition.RESTART_CONDITION_ON_FAILURE, delayMs: 1000, maxAttempts: 2 } }));
    c.crash = 1; // every running task fails at once
    await c.run(100);
    const tasks = c.tasksOf("job");
    expect(tasks.length).toBe(3); // the first run and two restarts
    expect(tasks.every((t) => t.status?.state === TaskState.TASK_STATE_FAILED)).toBe(true);
    const [, ...restarts] = tasks.sort((a, b) => a.meta!.createdAt - b.meta!.createdAt);
    for (const t of restarts) {
      expect(t.status!.restartNotBefore).toBe(t.meta!.createdAt + 1000);
      expect(t.status!.timestamp).toBeGreaterThanOrEqual(t.status!.restartNotBefore); // it ran only after the delay
    }
  });

  it("keeps a bounded task history per slot", async () => {
    const c = await cluster(1);
    await c.addService(service("flaky", { replicas: 1, restart: { delayMs: 0 } }));
    c.crash = 1;
    await c.run(200);
    expect(c.tasksOf("flaky").length).toBeLessThanOrEqual(5);
  });

  it("removes every task of a deleted service", async () => {
    const c = await cluster(2);
    await c.addService(service("web", { replicas: 4 }));
    await c.run(10);
    await c.store.update((tx) => tx.delete("service", "web"));
    await c.run(10);
    expect(c.tasksOf("web")).toEqual([]);
  });
});

describe("global orchestrator", () => {
  it("runs one task per eligible node, follows joins and drains", async () => {
    const c = await cluster(2);
    await c.addService(service("agent", { global: true, constraints: ["node.labels.kind!=edge"] }));
    await c.run(10);
    expect(perNode(c.running("agent"))).toEqual(new Map([["n1", 1], ["n2", 1]]));
    await c.addNode(node("n3"));
    await c.addNode(node("edge", { labels: { kind: "edge" } }));
    await c.run(10);
    expect(perNode(c.running("agent"))).toEqual(new Map([["n1", 1], ["n2", 1], ["n3", 1]]));
    await c.editNode("n1", (n) => (n.spec!.availability = NodeAvailability.NODE_AVAILABILITY_DRAIN));
    await c.run(10);
    expect(perNode(c.running("agent"))).toEqual(new Map([["n2", 1], ["n3", 1]]));
  });
});

describe("rolling updater", () => {
  it("replaces tasks a few slots at a time, stop-first, and completes", async () => {
    const c = await cluster(3);
    await c.addService(service("web", { replicas: 6 }));
    await c.run(10);
    await c.updateSpec("web", (s) => {
      s.spec!.task!.container!.image = "busybox:2";
      s.spec!.update = { parallelism: 2, delayMs: 0, failureAction: 0, monitorMs: 0, maxFailureRatio: 0, order: 0 };
    });
    let most = 0;
    for (let i = 0; i < 60; i++) {
      await c.step();
      const inFlight = c.tasksOf("web").filter((t) => t.specVersion === 2 && t.status!.state < TaskState.TASK_STATE_RUNNING).length;
      most = Math.max(most, inFlight);
      const meantToRun = c.tasksOf("web").filter((t) => t.desiredState === TaskState.TASK_STATE_RUNNING).length;
      expect(meantToRun).toBeLessThanOrEqual(6);
    }
    expect(most).toBe(2);
    expect(c.running("web").every((t) => t.specVersion === 2)).toBe(true);
    expect(c.running("web").length).toBe(6);
    expect(c.store.view((tx) => tx.get("service", "web"))!.updateStatus!.state).toBe(UpdateState.UPDATE_STATE_COMPLETED);
  });

  it("waits the update delay after each batch comes up before starting the next", async () => {
    const c = await cluster(3);
    await c.addService(service("web", { replicas: 6 }));
    await c.run(10);
    await c.updateSpec("web", (s) => {
      s.spec!.task!.container!.image = "busybox:2";
      s.spec!.update = { parallelism: 2, delayMs: 1000, failureAction: 0, monitorMs: 5000, maxFailureRatio: 0, order: 0 };
    });
    for (let i = 0; i < 400 && c.store.view((tx) => tx.get("service", "web"))!.updateStatus!.state !== UpdateState.UPDATE_STATE_COMPLETED; i++) await c.step();
    const made = c.tasksOf("web").filter((t) => t.specVersion === 2).sort((a, b) => a.meta!.createdAt - b.meta!.createdAt);
    expect(made).toHaveLength(6);
    for (let b = 1; b < 3; b++) {
      const upBefore = Math.max(...made.slice(2 * (b - 1), 2 * b).map((t) => t.status!.timestamp));
      const next = Math.min(...made.slice(2 * b, 2 * b + 2).map((t) => t.meta!.createdAt));
      expect(next - upBefore).toBeGreaterThanOrEqual(1000);
    }
  });

  it("rolls back when new tasks fail and the failure action says so", async () => {
    const c = await cluster(2);
    await c.addService(service("web", { replicas: 4, restart: { condition: RestartCondition.RESTART_CONDITION_NONE } }));
    await c.run(10);
    await c.updateSpec("web", (s) => {
      s.spec!.task!.container!.image = "broken";
      s.spec!.update = { parallelism: 1, delayMs: 0, failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK, monitorMs: 1000, maxFailureRatio: 0, order: 0 };
    });
    // The fake agent crashes whatever runs the broken image.
    for (let i = 0; i < 80; i++) {
      c.crash = c.tasksOf("web").some((t) => t.spec?.container?.image === "broken" && t.status!.state === TaskState.TASK_STATE_RUNNING) ? 1 : 0;
      await c.step();
    }
    const svc = c.store.view((tx) => tx.get("service", "web"))!;
    expect(svc.spec!.task!.container!.image).toBe("busybox");
    expect(svc.updateStatus!.state).toBe(UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED);
    expect(c.running("web").length).toBe(4);
  });
});
