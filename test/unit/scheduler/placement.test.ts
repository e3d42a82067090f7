import { describe, expect, it } from "vitest";
import { NodeAvailability, NodeState, type Node, type Task } from "../../../proto/gen/cluster.js";
import { portsOfTask } from "../../../manager/scheduler/filters.js";
import { buildNodeInfos } from "../../../manager/scheduler/nodeinfo.js";
import { schedule } from "../../../manager/scheduler/placement.js";
import { GiB, node, pendingTask, service } from "./fixtures.js";

function run(nodes: Node[], pending: Task[], existing: Task[] = []) {
  return schedule(buildNodeInfos(nodes, existing, portsOfTask), pending);
}
function perNode(assigned: { nodeId: string }[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const a of assigned) m.set(a.nodeId, (m.get(a.nodeId) ?? 0) + 1);
  return m;
}

describe("scheduler filters", () => {
  it("uses only ready, active nodes", () => {
    const s = service("web");
    const d = run([node("down", { state: NodeState.NODE_STATE_DOWN }), node("drained", { availability: NodeAvailability.NODE_AVAILABILITY_DRAIN }), node("paused", { availability: NodeAvailability.NODE_AVAILABILITY_PAUSE }), node("ok")], [pendingTask(s, 1), pendingTask(s, 2)]);
    expect(d.assigned.map((a) => a.nodeId)).toEqual(["ok", "ok"]);
  });

  it("counts CPU and memory reservations against what is left", () => {
    const s = service("db", { memory: 3 * GiB, cpus: 1e9 });
    const d = run([node("a", { memory: 8 * GiB }), node("b", { memory: 4 * GiB })], [1, 2, 3, 4].map((i) => pendingTask(s, i)));
    expect(perNode(d.assigned)).toEqual(new Map([["a", 2], ["b", 1]]));
    expect(d.unplaced.length).toBe(1);
    expect(d.unplaced[0].reason).toBe("no suitable node (insufficient memory on 2 nodes)");
  });

  it("keeps an impossible memory reservation pending with the reason", () => {
    const s = service("huge", { memory: 100 * GiB, constraints: ["node.labels.zone==east"] });
    const nodes = [...[1, 2, 3, 4, 5].map((i) => node(`e${i}`, { labels: { zone: "east" } })), node("w1"), node("w2")];
    const d = run(nodes, [pendingTask(s, 1)]);
    expect(d.assigned).toEqual([]);
    expect(d.unplaced[0].reason).toBe("no suitable node (insufficient memory on 7 nodes)");
    const fits = service("fits", { memory: 1 * GiB, constraints: ["node.labels.zone==west"] });
    expect(run(nodes, [pendingTask(fits, 1)]).unplaced[0].reason).toBe("no suitable node (scheduling constraints not satisfied on 7 nodes)");
    const mixed = service("mixed", { memory: 7 * GiB, constraints: ["node.labels.zone==east"] });
    const small = [...[1, 2, 3, 4, 5].map((i) => node(`e${i}`, { labels: { zone: "east" }, memory: GiB })), node("w1"), node("w2")];
    expect(run(small, [pendingTask(mixed, 1)]).unplaced[0].reason).toBe(
      "no suitable node (insufficient memory on 5 nodes; scheduling constraints not satisfied on 2 nodes)",
    );
  });

  it("honours constraints", () => {
    const s = service("web", { constraints: ["node.labels.zone==east"] });
    const d = run([node("a", { labels: { zone: "east" } }), node("b", { labels: { zone: "west" } })], [1, 2, 3].map((i) => pendingTask(s, i)));
    expect(perNode(d.assigned)).toEqual(new Map([["a", 3]]));
  });

  it("never puts two tasks publishing the same host port on one node", () => {
    const s = service("lb", { hostPort: 8080 });
    const d = run([node("a"), node("b")], [1, 2, 3].map((i) => pendingTask(s, i)));
    expect(perNode(d.assigned)).toEqual(new Map([["a", 1], ["b", 1]]));
    expect(d.unplaced[0].reason).toBe("no suitable node (host-mode port already in use on 2 nodes)");
  });

  it("respects max replicas per node", () => {
    const s = service("web", { maxReplicas: 2 });
    const d = run([node("a"), node("b")], [1, 2, 3, 4, 5].map((i) => pendingTask(s, i)));
    expect(perNode(d.assigned)).toEqual(new Map([["a", 2], ["b", 2]]));
    expect(d.unplaced[0].reason).toContain("max replicas per node reached on 2 nodes");
  });

  it("checks a task that names its node against that node only", () => {
    const s = service("agent", { global: true, memory: 2 * GiB });
    const d = run([node("a"), node("b", { memory: GiB })], [pendingTask(s, 0, "a"), pendingTask(s, 0, "b")]);
    expect(d.assigned).toEqual([{ taskId: expect.any(String), nodeId: "a" }]);
    expect(d.unplaced[0].reason).toBe("no suitable node (insufficient memory on 1 node)");
  });
});

describe("scheduler ranking", () => {
  it("spreads 6 replicas over 5 nodes: no node has 2 more than another", () => {
    const s = service("web");
    const nodes = [1, 2, 3, 4, 5].map((i) => node(`n${i}`));
    const counts = [...perNode(run(nodes, [1, 2, 3, 4, 5, 6].map((i) => pendingTask(s, i))).assigned).values()];
    expect(counts.length).toBe(5);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it("prefers nodes with fewer of the service, then fewer tasks overall", () => {
    const other = service("other");
    const busy = [1, 2, 3].map((i) => ({ ...pendingTask(other, i), nodeId: "a" }));
    const s = service("web");
    const d = run([node("a"), node("b")], [pendingTask(s, 1)], busy);
    expect(d.assigned[0].nodeId).toBe("b");
  });

  it("spreads over a label's values first, then over nodes within each", () => {
    const s = service("web", { spread: ["node.labels.zone"] });
    const nodes = [node("a1", { labels: { zone: "a" } }), node("a2", { labels: { zone: "a" } }), node("a3", { labels: { zone: "a" } }), node("b1", { labels: { zone: "b" } })];
    const d = run(nodes, [1, 2, 3, 4].map((i) => pendingTask(s, i)));
    expect(perNode(d.assigned).get("b1")).toBe(2);
  });

  it("places 100,000 tasks on 1,000 nodes quickly", () => {
    const nodes = Array.from({ length: 1000 }, (_, i) => node(`n${String(i).padStart(4, "0")}`, { labels: { zone: `z${i % 3}` } }));
    const pending: Task[] = [];
    for (let svc = 0; svc < 10; svc++) {
      const s = service(`s${svc}`, { memory: 16 * 1024 * 1024, spread: svc % 2 ? ["node.labels.zone"] : [] });
      for (let i = 1; i <= 10_000; i++) pending.push(pendingTask(s, i));
    }
    const started = performance.now();
    const d = run(nodes, pending);
    const ms = performance.now() - started;
    console.log(`scheduled ${d.assigned.length} tasks on 1000 nodes in ${ms.toFixed(0)} ms`);
    expect(d.assigned.length).toBe(100_000);
    const counts = [...perNode(d.assigned).values()];
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(10);
  });
});

describe("what wakes the scheduler", () => {
  it("a task told to stop wakes it when it finally ends, not before", async () => {
    const { mattersToScheduler } = await import("../../../manager/scheduler/scheduler.js");
    const { TaskState } = await import("../../../proto/gen/cluster.js");
    const t = (state: number, desired: number) => ({ id: "t", serviceId: "s", slot: 1, nodeId: "n1", specVersion: 1, desiredState: desired, status: { state, timestamp: 0, message: "", err: "", pendingReason: "", restartNotBefore: 0 }, networks: [], assignedGenericResources: [] });
    const R = TaskState.TASK_STATE_RUNNING;
    const S = TaskState.TASK_STATE_SHUTDOWN;
    expect(mattersToScheduler({ kind: "task", action: "update", version: 2, old: t(R, R), new: t(R, S) })).toBe(false);
    expect(mattersToScheduler({ kind: "task", action: "update", version: 3, old: t(R, S), new: t(S, S) })).toBe(true);
  });
});
