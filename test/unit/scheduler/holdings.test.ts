// The node infos the scheduler keeps from store events agree with counting every task again, and
// a started scheduler with a small pass limit still places every task, spread.
import { describe, expect, it } from "vitest";
import { TaskState } from "../../../proto/gen/cluster.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { portsOfTask } from "../../../manager/scheduler/filters.js";
import { Holdings } from "../../../manager/scheduler/holdings.js";
import { buildNodeInfos } from "../../../manager/scheduler/nodeinfo.js";
import { Scheduler } from "../../../manager/scheduler/scheduler.js";
import { GiB, node, pendingTask, service } from "./fixtures.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("scheduler holdings", () => {
  it("follow placements, ends and node changes as a recount would", async () => {
    const store = new MemoryStore();
    const h = new Holdings();
    store.subscribe((e) => h.apply(e), { kinds: ["task", "node"] });
    const s = service("db", { memory: GiB, cpus: 1e9, hostPort: 5432 });
    await store.update((tx) => {
      for (const n of ["a", "b", "c"]) tx.create("node", node(n));
      for (let i = 1; i <= 4; i++) tx.create("task", pendingTask(s, i));
    });
    store.view((tx) => h.current(tx));
    const ids = store.view((tx) => tx.find("task").map((t) => t.id));
    await store.update((tx) => ids.forEach((id, i) => tx.update("task", { ...tx.get("task", id)!, nodeId: ["a", "b", "c", "a"][i], status: { ...tx.get("task", id)!.status!, state: TaskState.TASK_STATE_ASSIGNED } })));
    await store.update((tx) => void tx.update("task", { ...tx.get("task", ids[0])!, status: { ...tx.get("task", ids[0])!.status!, state: TaskState.TASK_STATE_FAILED } }));
    await store.update((tx) => void tx.delete("task", ids[1]));
    await store.update((tx) => void tx.update("node", { ...tx.get("node", "c")!, spec: { ...tx.get("node", "c")!.spec!, annotations: { name: "c", labels: { zone: "x" } } } }));
    const recount = store.view((tx) => buildNodeInfos(tx.find("node"), tx.find("task"), portsOfTask));
    expect(store.view((tx) => h.current(tx))).toEqual(recount);
  });

  it("places every task over passes of a few each, spread over the nodes", async () => {
    const store = new MemoryStore();
    const s = service("web");
    await store.update((tx) => {
      for (const n of ["a", "b"]) tx.create("node", node(n));
      for (let i = 1; i <= 10; i++) tx.create("task", pendingTask(s, i));
    });
    const sched = new Scheduler(store, { batchDelayMs: 1, passLimit: 3 });
    sched.start();
    const assigned = () => store.view((tx) => tx.find("task").filter((t) => t.status?.state === TaskState.TASK_STATE_ASSIGNED));
    for (let i = 0; i < 200 && assigned().length < 10; i++) await sleep(5);
    sched.stop();
    expect(assigned().filter((t) => t.nodeId === "a")).toHaveLength(5);
    expect(assigned().filter((t) => t.nodeId === "b")).toHaveLength(5);
  });
});
