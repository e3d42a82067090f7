// The Control API driving the real orchestrator, allocator and scheduler decisions (with fake
// agents): what UpdateService writes is what the updater acts on.
import { describe, expect, it } from "vitest";
import { RestartCondition, type ServiceSpec, UpdateState } from "../../../proto/gen/cluster.js";
import { ControlApi } from "../../../manager/controlapi/api.js";
import { DEFAULT_UPDATE_CONFIG } from "../../../manager/controlapi/spec.js";
import { SimCluster } from "../orchestrator/harness.js";
import { node } from "../scheduler/fixtures.js";
import { spec } from "./fixtures.js";

async function cluster(): Promise<{ c: SimCluster; api: ControlApi }> {
  const c = new SimCluster();
  c.progress = 1;
  for (const id of ["n1", "n2", "n3"]) await c.addNode(node(id));
  return { c, api: new ControlApi(c.store, { now: () => c.now }) };
}

async function until(c: SimCluster, what: string, done: () => boolean, steps = 200): Promise<void> {
  for (let i = 0; i < steps && !done(); i++) await c.step();
  expect(done(), `${what}: ${c.describe()}`).toBe(true);
}

const web = spec("web", (s) => {
  s.mode = { $case: "replicated", value: { replicas: 3 } };
  s.update = { ...DEFAULT_UPDATE_CONFIG, monitorMs: 200 };
  s.rollback = { ...DEFAULT_UPDATE_CONFIG, monitorMs: 200 };
  s.task!.restart = { condition: RestartCondition.RESTART_CONDITION_ANY, delayMs: 0, maxAttempts: 0, windowMs: 0 };
});

describe("rolling updates through the Control API", () => {
  it("updates, completes, rolls back and completes that too", async () => {
    const { c, api } = await cluster();
    const { id } = await api.createService({ spec: web });
    await until(c, "created", () => c.converged());
    const image = () => new Set(c.running(id).map((t) => t.spec?.container?.image));
    const state = () => c.store.view((tx) => tx.get("service", id))!.updateStatus?.state;

    let s = await api.getService({ ref: "web" });
    const next: ServiceSpec = structuredClone(s.spec!);
    next.task!.container!.image = "busybox:2";
    await api.updateService({ ref: "web", version: s.meta!.version, spec: next, rollback: false });
    await until(c, "updated", () => state() === UpdateState.UPDATE_STATE_COMPLETED && c.converged());
    expect(image()).toEqual(new Set(["busybox:2"]));

    s = await api.getService({ ref: "web" });
    await api.updateService({ ref: "web", version: s.meta!.version, rollback: true });
    expect(state()).toBe(UpdateState.UPDATE_STATE_ROLLBACK_STARTED);
    await until(c, "rolled back", () => state() === UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED && c.converged());
    expect(image()).toEqual(new Set(["busybox:1"]));
  });

  it("scales without replacing a task", async () => {
    const { c, api } = await cluster();
    const { id } = await api.createService({ spec: web });
    await until(c, "created", () => c.converged());
    const before = new Set(c.running(id).map((t) => t.id));
    const s = await api.getService({ ref: "web" });
    const more = structuredClone(s.spec!);
    more.mode = { $case: "replicated", value: { replicas: 5 } };
    await api.updateService({ ref: "web", version: s.meta!.version, spec: more, rollback: false });
    await until(c, "scaled", () => c.converged());
    const after = c.running(id);
    expect(after.length).toBe(5);
    expect(after.filter((t) => before.has(t.id)).length).toBe(3);
  });

  it("a paused update stays paused until another update resumes it", async () => {
    const { c, api } = await cluster();
    const { id } = await api.createService({ spec: web });
    await until(c, "created", () => c.converged());
    const state = () => c.store.view((tx) => tx.get("service", id))!.updateStatus?.state;

    let s = await api.getService({ ref: "web" });
    const next = structuredClone(s.spec!);
    next.task!.container!.image = "busybox:2";
    await api.updateService({ ref: "web", version: s.meta!.version, spec: next, rollback: false });
    c.crash = 1; // the new version fails as soon as it runs
    await until(c, "paused", () => state() === UpdateState.UPDATE_STATE_PAUSED);
    c.crash = 0;
    await c.run(30);
    expect(state()).toBe(UpdateState.UPDATE_STATE_PAUSED);

    s = await api.getService({ ref: "web" });
    const resumed = await api.updateService({ ref: "web", version: s.meta!.version, spec: s.spec, rollback: false });
    expect(resumed.updateStatus?.state).toBe(UpdateState.UPDATE_STATE_UPDATING);
    await until(c, "resumed and completed", () => state() === UpdateState.UPDATE_STATE_COMPLETED && c.converged());
    expect(new Set(c.running(id).map((t) => t.spec?.container?.image))).toEqual(new Set(["busybox:2"]));
  });
});
