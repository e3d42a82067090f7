// Three real managers (Raft over loopback gRPC) and simulated agents with real sessions: tasks are
// placed, pushed and reported running; a silent node is marked down and its tasks replaced; the
// agents follow a new leader on their own.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeState, TaskState } from "../../../proto/gen/cluster.js";
import { ManagerGroup } from "../../support/cluster/managers.js";
import { SimAgent } from "../../support/cluster/sim-agent.js";

async function eventually(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not so within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("dispatcher with simulated agents", () => {
  let g: ManagerGroup;
  const agents: SimAgent[] = [];
  beforeAll(async () => {
    g = await ManagerGroup.start(3);
    const ids = ["n1", "n2", "n3", "n4"];
    await g.addNodes(ids);
    for (const id of ids) {
      const a = new SimAgent(id, g.addrs);
      agents.push(a);
      a.start();
    }
  });
  afterAll(async () => {
    for (const a of agents) a.stop();
    await g?.stop();
  });

  const view = async () => (await g.leader()).store;

  it("marks agents' nodes ready once their sessions open", async () => {
    const store = await view();
    await eventually("4 ready", () => store.view((tx) => tx.find("node").filter((n) => n.status?.state === NodeState.NODE_STATE_READY).length) === 4);
  });

  it("runs a replicated service's tasks on the agents and records them running", async () => {
    const store = await view();
    await store.update((tx) => tx.create("service", { id: "", spec: { annotations: { name: "web", labels: {} }, task: { container: { image: "busybox:1", command: [], args: [], env: [], dir: "", user: "", hostname: "", mounts: [], stopGracePeriodMs: 0, labels: {} }, networks: [], forceUpdate: 0 }, mode: { $case: "replicated", value: { replicas: 8 } } }, specVersion: 1 }));
    await eventually("8 running", () => store.view((tx) => tx.find("task").filter((t) => t.status?.state === TaskState.TASK_STATE_RUNNING).length) === 8);
    const perNode = agents.map((a) => a.tasks.length);
    expect(perNode).toEqual([2, 2, 2, 2]);
  });

  it("gathers a stream of changes to a node into fewer pushes, losing none", async () => {
    const store = await view();
    const before = agents.reduce((n, a) => n + a.messages, 0);
    // 40 scale-ups by one, 10 ms apart: 10 new tasks a node in 0.4 s, each its own change set.
    for (let replicas = 9; replicas <= 48; replicas++) {
      await store.update((tx) => {
        const s = tx.find("service")[0];
        tx.update("service", { ...s, spec: { ...s.spec!, mode: { $case: "replicated", value: { replicas } } } });
      });
      await new Promise((r) => setTimeout(r, 10));
    }
    await eventually("48 running", () => store.view((tx) => tx.find("task").filter((t) => t.status?.state === TaskState.TASK_STATE_RUNNING).length) === 48);
    expect(agents.map((a) => a.tasks.length)).toEqual([12, 12, 12, 12]);
    // A node is pushed to 3 times at once, then once per 150 ms: about 5 or 6 times each in 0.4 s.
    expect(agents.reduce((n, a) => n + a.messages, 0) - before).toBeLessThan(30);
    await store.update((tx) => {
      const s = tx.find("service")[0];
      tx.update("service", { ...s, spec: { ...s.spec!, mode: { $case: "replicated", value: { replicas: 8 } } } });
    });
    await eventually("8 running", () => store.view((tx) => tx.find("task").filter((t) => t.status?.state === TaskState.TASK_STATE_RUNNING).length) === 8);
  });

  it("marks a silent node down and runs its tasks elsewhere", async () => {
    const store = await view();
    agents[3].stop();
    await eventually("n4 down", () => store.view((tx) => tx.get("node", "n4")?.status?.state) === NodeState.NODE_STATE_DOWN, 10_000);
    await eventually("8 running on n1-n3", () =>
      store.view((tx) => tx.find("task").filter((t) => t.status?.state === TaskState.TASK_STATE_RUNNING && t.desiredState === TaskState.TASK_STATE_RUNNING && t.nodeId !== "n4").length) === 8,
    );
  });

  it("agents follow a new leader when the old one stops", async () => {
    const old = await g.leader();
    await old.stop();
    await eventually("a new leader", () => g.managers.some((m) => m !== old && m.isLeader()), 10_000);
    const store = (await g.leader()).store;
    await eventually("n1-n3 ready under the new leader", () => ["n1", "n2", "n3"].every((id) => store.view((tx) => tx.get("node", id)?.status?.state) === NodeState.NODE_STATE_READY), 10_000);
    await store.update((tx) => {
      const s = tx.find("service")[0];
      tx.update("service", { ...s, spec: { ...s.spec!, mode: { $case: "replicated", value: { replicas: 12 } } } });
    });
    await eventually("12 running", () => store.view((tx) => tx.find("task").filter((t) => t.status?.state === TaskState.TASK_STATE_RUNNING && t.desiredState === TaskState.TASK_STATE_RUNNING).length) === 12);
  });
});
