// Seeded simulation: the store, orchestrator, allocator and scheduler with fake agents, under
// random crashes, node failures, drains and scaling. Each seed replays one exact history.
import { describe, expect, it } from "vitest";
import { NodeAvailability, NodeState, TaskState, type Task } from "../../../proto/gen/cluster.js";
import { replicasOf } from "../../../manager/orchestrator/replicated.js";
import { GiB, node, service } from "../scheduler/fixtures.js";
import { SimCluster, rng } from "./harness.js";

const SEEDS = Number(process.env.SHOAL_SIM_SEEDS ?? 200);
// SHOAL_SIM_SEED=N replays one seed.
const ONLY = process.env.SHOAL_SIM_SEED ? Number(process.env.SHOAL_SIM_SEED) : undefined;
const NODES = 5;

async function simulate(seed: number): Promise<void> {
  const random = rng(seed);
  const c = new SimCluster(random);
  c.crash = 0.02;
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
  const violations: string[] = [];
  const fail = (m: string) => violations.push(`seed ${seed} at ${c.now}: ${m}`);

  // Invariant: no write ever moves a task's observed or desired state backward.
  c.store.subscribe((events) => {
    for (const e of events) {
      if (e.kind !== "task" || e.action !== "update") continue;
      const [a, b] = [e.old as Task, e.new as Task];
      if (b.status!.state < a.status!.state) fail(`task ${a.id} state moved back`);
      if (b.desiredState < a.desiredState) fail(`task ${a.id} desired state moved back`);
    }
  });

  for (let i = 1; i <= NODES; i++) await c.addNode(node(`n${i}`, { memory: 4 * GiB, labels: { zone: `z${i % 2}` } }));
  await c.addService(service("web", { replicas: 1 + Math.floor(random() * 8), memory: 256 * 1024 * 1024, restart: { delayMs: Math.floor(random() * 500) } }));
  await c.addService(service("api", { replicas: 3, spread: ["node.labels.zone"], restart: { delayMs: 200 } }));
  await c.addService(service("agent", { global: true, restart: { delayMs: 100 } }));

  // Never more tasks meant to run than asked, and at most one per slot, at every step.
  const checkBounds = () => {
    for (const s of c.store.view((tx) => tx.find("service"))) {
      const wanted = c.tasksOf(s.id).filter((t) => t.desiredState === TaskState.TASK_STATE_RUNNING);
      const keys = wanted.map((t) => (t.slot > 0 ? `${t.slot}` : t.nodeId));
      if (new Set(keys).size !== keys.length) fail(`${s.id}: two tasks meant to run in one slot`);
      if (s.spec?.mode?.$case === "replicated" && wanted.length > replicasOf(s)) fail(`${s.id}: ${wanted.length} tasks meant to run, ${replicasOf(s)} asked`);
    }
  };

  // Chaos.
  for (let step = 0; step < 150; step++) {
    const r = random();
    const id = `n${1 + Math.floor(random() * NODES)}`;
    if (r < 0.03) await c.editNode(id, (n) => (n.status!.state = NodeState.NODE_STATE_DOWN));
    else if (r < 0.08) await c.editNode(id, (n) => (n.status!.state = NodeState.NODE_STATE_READY));
    else if (r < 0.1) await c.editNode(id, (n) => (n.spec!.availability = pick([NodeAvailability.NODE_AVAILABILITY_DRAIN, NodeAvailability.NODE_AVAILABILITY_PAUSE])));
    else if (r < 0.14) await c.editNode(id, (n) => (n.spec!.availability = NodeAvailability.NODE_AVAILABILITY_ACTIVE));
    else if (r < 0.17) {
      const replicas = Math.floor(random() * 10);
      await c.editService("web", (s) => (s.spec!.mode = { $case: "replicated", value: { replicas } }));
    } else if (r < 0.19) {
      const target = pick(["web", "api", "agent"]);
      const parallelism = Math.floor(random() * 3);
      await c.updateSpec(target, (s) => {
        s.spec!.task!.container!.image = `busybox:${c.now}`;
        s.spec!.update = { parallelism, delayMs: 100, failureAction: 1, monitorMs: 200, maxFailureRatio: 0, order: 0 };
      });
    }
    await c.step();
    checkBounds();
  }

  // Calm: no crashes, every node back except perhaps one left down and one left drained (their
  // tasks must then run elsewhere). The cluster must converge and then stay put.
  c.crash = 0;
  const leftDown = random() < 0.5 ? "n1" : "";
  const leftDrained = random() < 0.5 ? "n2" : "";
  for (let i = 1; i <= NODES; i++) {
    await c.editNode(`n${i}`, (n) => {
      n.status!.state = n.id === leftDown ? NodeState.NODE_STATE_DOWN : NodeState.NODE_STATE_READY;
      n.spec!.availability = n.id === leftDrained ? NodeAvailability.NODE_AVAILABILITY_DRAIN : NodeAvailability.NODE_AVAILABILITY_ACTIVE;
    });
  }
  let convergedAt = -1;
  for (let step = 0; step < 150 && convergedAt < 0; step++) {
    await c.step();
    checkBounds();
    if (c.converged()) convergedAt = step;
  }
  if (convergedAt < 0) fail(`did not converge within 150 calm steps: ${c.describe()}`);
  await c.run(20);
  checkBounds();
  if (!c.converged()) fail("left convergence while calm");
  for (const s of c.store.view((tx) => tx.find("service"))) {
    const bySlot = new Map<string, number>();
    for (const t of c.tasksOf(s.id)) {
      const k = t.slot > 0 ? `${t.slot}` : t.nodeId;
      bySlot.set(k, (bySlot.get(k) ?? 0) + 1);
    }
    // Tasks stranded on the down node are not dead yet, so they may exceed the history limit.
    for (const [k, n] of bySlot) if (n > 5 + (leftDown ? 1 : 0)) fail(`${s.id} slot ${k} keeps ${n} tasks, limit 5`);
  }
  expect(violations).toEqual([]);
}

describe("control plane simulation", () => {
  it(`converges and keeps its invariants over ${SEEDS} seeds`, async () => {
    if (ONLY !== undefined) return simulate(ONLY);
    for (let seed = 1; seed <= SEEDS; seed++) await simulate(seed);
  });
});
