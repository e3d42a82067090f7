import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { NodeAvailability, NodeState, type Service, type Task, TaskState, UpdateState } from "../../../proto/gen/cluster.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { ControlApi } from "../../../manager/controlapi/api.js";
import { node } from "../scheduler/fixtures.js";
import { NOW, refused, setup, spec } from "./fixtures.js";

const replicas = (n: number) => spec("web", (s) => (s.mode = { $case: "replicated", value: { replicas: n } }));
const withImage = (s: Service, image: string) => {
  const next = structuredClone(s.spec!);
  next.task!.container!.image = image;
  return next;
};

describe("refs", () => {
  it("finds a service by full id, name in any case, or unique id prefix", async () => {
    const ids = ["abc111", "abd222"];
    const { api } = await setup({ store: { newId: () => ids.shift() ?? "zzz" } });
    await api.createService({ spec: spec("web") });
    await api.createService({ spec: spec("db") });
    for (const ref of ["abc111", "WEB", "abc"]) expect((await api.getService({ ref })).spec?.annotations?.name).toBe("web");
  });

  it("refuses an ambiguous prefix, an unknown ref and an empty one", async () => {
    const ids = ["abc111", "abd222"];
    const { store, api } = await setup({ store: { newId: () => ids.shift() ?? "zzz" } });
    await api.createService({ spec: spec("web") });
    await api.createService({ spec: spec("db") });
    await refused(store, () => api.getService({ ref: "ab" }), status.INVALID_ARGUMENT, "service id prefix ab is ambiguous: it matches 2 services; give more of the id");
    await refused(store, () => api.getService({ ref: "nope" }), status.NOT_FOUND, "no such service: nope");
    await refused(store, () => api.getService({ ref: "" }), status.INVALID_ARGUMENT, "no service given: name a service by its name or id");
    await refused(store, () => api.removeService({ ref: "nope" }), status.NOT_FOUND, "no such service: nope");
  });

  it("finds a node by hostname, and refuses a hostname two nodes share", async () => {
    const old = node("n-old", { state: NodeState.NODE_STATE_DOWN });
    const again = node("n-new");
    for (const n of [old, again]) (n.description!.hostname = "w1"), (n.spec!.annotations!.name = "");
    const { store, api } = await setup({ nodes: [node("m1"), old, again] });
    expect((await api.getNode({ ref: "M1" })).id).toBe("m1");
    expect((await api.getNode({ ref: "n-n" })).id).toBe("n-new");
    await refused(store, () => api.getNode({ ref: "w1" }), status.INVALID_ARGUMENT, "node name w1 is ambiguous: 2 nodes have it (n-old, n-new); use the node id");
    await refused(store, () => api.getNode({ ref: "w9" }), status.NOT_FOUND, "no such node: w9");
  });
});

describe("UpdateService", () => {
  it("refuses a version other than the one stored, telling to read again", async () => {
    const { store, api } = await setup();
    const s = await api.createService({ spec: replicas(2) });
    await refused(store, () => api.updateService({ ref: "web", version: s.meta!.version - 1, spec: replicas(3), rollback: false }), status.ABORTED, `service web was changed since you read it (version ${s.meta!.version}, you had ${s.meta!.version - 1}): read it again and retry`);
  });

  it("rolls out a new task template: spec version bumped, previous spec kept, update started", async () => {
    let now = NOW;
    const { api } = await setup({ api: { now: () => now } });
    const s = await api.createService({ spec: replicas(2) });
    now += 1000;
    const u = await api.updateService({ ref: "web", version: s.meta!.version, spec: withImage(s, "busybox:2"), rollback: false });
    expect(u.specVersion).toBe(2);
    expect(u.spec?.task?.container?.image).toBe("busybox:2");
    expect(u.previousSpec).toEqual(s.spec);
    expect(u.updateStatus).toEqual({ state: UpdateState.UPDATE_STATE_UPDATING, startedAt: NOW + 1000, completedAt: 0, message: "update in progress" });
  });

  it.each([
    ["a new replica count", (sp: ReturnType<typeof replicas>) => (sp.mode = { $case: "replicated", value: { replicas: 5 } })],
    ["a new update policy", (sp: ReturnType<typeof replicas>) => (sp.update!.parallelism = 3)],
    ["a new service label", (sp: ReturnType<typeof replicas>) => (sp.annotations!.labels = { team: "a" })],
  ])("keeps the tasks for %s", async (_, edit) => {
    const { api } = await setup();
    const s = await api.createService({ spec: replicas(2) });
    const next = structuredClone(s.spec!);
    edit(next);
    const u = await api.updateService({ ref: s.id, version: s.meta!.version, spec: next, rollback: false });
    expect(u.specVersion).toBe(1);
    expect(u.updateStatus).toBeUndefined();
    expect(u.previousSpec).toEqual(s.spec);
    expect(u.spec).toEqual(next);
  });

  it("replaces tasks for a forced update, new ports, and maps that differ only in key order do not", async () => {
    const { api } = await setup();
    let s = await api.createService({ spec: spec("web", (x) => (x.task!.container!.labels = { a: "1", b: "2" })) });
    const reordered = structuredClone(s.spec!);
    reordered.task!.container!.labels = { b: "2", a: "1" };
    s = await api.updateService({ ref: "web", version: s.meta!.version, spec: reordered, rollback: false });
    expect(s.specVersion).toBe(1);
    const forced = structuredClone(s.spec!);
    forced.task!.forceUpdate++;
    s = await api.updateService({ ref: "web", version: s.meta!.version, spec: forced, rollback: false });
    expect(s.specVersion).toBe(2);
    const ported = structuredClone(s.spec!);
    ported.endpoint = { mode: 0, ports: [{ name: "", protocol: 0, targetPort: 80, publishedPort: 8080, publishMode: 0 }] };
    s = await api.updateService({ ref: "web", version: s.meta!.version, spec: ported, rollback: false });
    expect(s.specVersion).toBe(3);
  });

  it("resumes a paused update with any update, counting failures afresh", async () => {
    let now = NOW;
    const { store, api } = await setup({ api: { now: () => now } });
    let s = await api.createService({ spec: replicas(2) });
    s = await api.updateService({ ref: "web", version: s.meta!.version, spec: withImage(s, "busybox:2"), rollback: false });
    await store.update((tx) => tx.update("service", { ...s, updateStatus: { state: UpdateState.UPDATE_STATE_PAUSED, startedAt: NOW, completedAt: 0, message: "update paused: 1 new task(s) failed" } }));
    s = await api.getService({ ref: "web" });
    now += 60_000;
    const u = await api.updateService({ ref: "web", version: s.meta!.version, spec: s.spec, rollback: false });
    expect(u.specVersion).toBe(2);
    expect(u.updateStatus).toEqual({ state: UpdateState.UPDATE_STATE_UPDATING, startedAt: now, completedAt: 0, message: "update resumed" });
  });

  it("rolls back to the previous spec, and refuses when there is none", async () => {
    let now = NOW;
    const { store, api } = await setup({ api: { now: () => now } });
    const s = await api.createService({ spec: replicas(2) });
    await refused(store, () => api.updateService({ ref: "web", version: s.meta!.version, rollback: true }), status.FAILED_PRECONDITION, "service web has no previous spec to roll back to: it was never updated");
    const u = await api.updateService({ ref: "web", version: s.meta!.version, spec: withImage(s, "busybox:2"), rollback: false });
    now += 5000;
    const r = await api.updateService({ ref: "web", version: u.meta!.version, rollback: true });
    expect(r.spec).toEqual(s.spec);
    expect(r.previousSpec).toEqual(u.spec);
    expect(r.specVersion).toBe(3);
    expect(r.updateStatus).toEqual({ state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED, startedAt: now, completedAt: 0, message: "rollback requested" });
  });

  it("refuses a rollback whose spec would now clash with another service's port", async () => {
    const { store, api } = await setup();
    const p = { name: "", protocol: 0, targetPort: 80, publishedPort: 9000, publishMode: 0 };
    const s = await api.createService({ spec: spec("web", (x) => (x.endpoint = { mode: 0, ports: [p] })) });
    const moved = structuredClone(s.spec!);
    moved.endpoint!.ports[0].publishedPort = 9001;
    const u = await api.updateService({ ref: "web", version: s.meta!.version, spec: moved, rollback: false });
    await api.createService({ spec: spec("other", (x) => (x.endpoint = { mode: 0, ports: [p] })) });
    await refused(store, () => api.updateService({ ref: "web", version: u.meta!.version, rollback: true }), status.ALREADY_EXISTS, "port 9000/tcp is already published by service other: publish another port, or remove it from other first");
  });

  it("refuses a bad new spec, a rename and a change of mode, writing nothing", async () => {
    const { store, api } = await setup();
    const s = await api.createService({ spec: replicas(2) });
    const v = s.meta!.version;
    await refused(store, () => api.updateService({ ref: "web", version: v, spec: replicas(-3), rollback: false }), status.INVALID_ARGUMENT, "service web: replicas must be a whole number from 0 to 1000000, not -3");
    await refused(store, () => api.updateService({ ref: "web", version: v, spec: spec("api"), rollback: false }), status.INVALID_ARGUMENT, "service web cannot be renamed to api: create a new service with that name instead");
    await refused(store, () => api.updateService({ ref: "web", version: v, spec: spec("web", (x) => (x.mode = { $case: "global", value: {} })), rollback: false }), status.INVALID_ARGUMENT, "service web is replicated and cannot become global: remove it and create it again");
    await refused(store, () => api.updateService({ ref: "web", version: v, rollback: false }), status.INVALID_ARGUMENT, "no spec given for service web: send the whole new spec");
  });

  it("keeps its own published port across an update", async () => {
    const { api } = await setup();
    const s = await api.createService({ spec: spec("web", (x) => (x.endpoint = { mode: 0, ports: [{ name: "", protocol: 0, targetPort: 80, publishedPort: 9000, publishMode: 0 }] })) });
    const u = await api.updateService({ ref: "web", version: s.meta!.version, spec: withImage(s, "busybox:2"), rollback: false });
    expect(u.spec?.endpoint?.ports[0].publishedPort).toBe(9000);
  });
});

const task = (id: string, serviceId: string, nodeId: string, state: TaskState, desired = TaskState.TASK_STATE_RUNNING): Task => ({
  id,
  serviceId,
  slot: 1,
  nodeId,
  specVersion: 1,
  desiredState: desired,
  status: { state, timestamp: 0, message: "", err: "", pendingReason: "", restartNotBefore: 0 },
  networks: [],
  assignedGenericResources: [],
});

describe("ListServices and ListTasks", () => {
  it("counts running tasks meant to run, and the replicas asked for", async () => {
    const { store, api } = await setup({ nodes: [node("n1")] });
    const web = await api.createService({ spec: replicas(3) });
    await store.update((tx) => {
      tx.create("task", task("t1", web.id, "n1", TaskState.TASK_STATE_RUNNING));
      tx.create("task", task("t2", web.id, "n1", TaskState.TASK_STATE_RUNNING));
      tx.create("task", task("t3", web.id, "n1", TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_SHUTDOWN)); // being stopped
      tx.create("task", task("t4", web.id, "n1", TaskState.TASK_STATE_PENDING)); // not up yet
      tx.create("task", task("t5", web.id, "n1", TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_SHUTDOWN));
    });
    const [st] = (await api.listServices()).services;
    expect([st.running, st.desired]).toEqual([2, 3]);
  });

  it("a global service wants one task per ready, undrained node meeting its constraints", async () => {
    const nodes = [
      node("active"),
      node("paused", { availability: NodeAvailability.NODE_AVAILABILITY_PAUSE }),
      node("drained", { availability: NodeAvailability.NODE_AVAILABILITY_DRAIN }),
      node("down", { state: NodeState.NODE_STATE_DOWN }),
      node("elsewhere", { labels: { zone: "west" } }),
    ];
    const { api } = await setup({ nodes });
    await api.createService({ spec: spec("agent", (s) => ((s.mode = { $case: "global", value: {} }), (s.task!.placement = { constraints: ["node.labels.zone!=west"], preferences: [], maxReplicas: 0 }))) });
    const [st] = (await api.listServices()).services;
    expect([st.running, st.desired]).toEqual([0, 2]);
  });

  it("lists a service's or a node's tasks with the names service ps prints", async () => {
    const { store, api } = await setup({ nodes: [node("n1"), node("n2")] });
    const web = await api.createService({ spec: spec("web") });
    const db = await api.createService({ spec: spec("db") });
    await store.update((tx) => {
      tx.create("task", task("w1", web.id, "n1", TaskState.TASK_STATE_RUNNING));
      tx.create("task", task("w2", web.id, "n2", TaskState.TASK_STATE_RUNNING));
      tx.create("task", task("w3", web.id, "", TaskState.TASK_STATE_PENDING));
      tx.create("task", task("d1", db.id, "n1", TaskState.TASK_STATE_RUNNING));
    });
    const ids = (r: { tasks: Task[] }) => r.tasks.map((t) => t.id).sort();
    const byService = await api.listTasks({ service: "web", node: "" });
    expect(ids(byService)).toEqual(["w1", "w2", "w3"]);
    expect(byService.nodeNames).toEqual({ n1: "n1", n2: "n2" });
    expect(byService.serviceNames).toEqual({ [web.id]: "web" });
    const byNode = await api.listTasks({ service: "", node: "n1" });
    expect(ids(byNode)).toEqual(["d1", "w1"]);
    expect(byNode.serviceNames).toEqual({ [web.id]: "web", [db.id]: "db" });
    expect(ids(await api.listTasks({ service: "web", node: "n1" }))).toEqual(["w1"]);
    expect(ids(await api.listTasks({ service: "", node: "" }))).toEqual(["d1", "w1", "w2", "w3"]);
    await refused(store, () => api.listTasks({ service: "nope", node: "" }), status.NOT_FOUND, "no such service: nope");
  });
});

describe("writes racing through a store that applies later (as Raft does)", () => {
  const deferred = () => {
    const store: MemoryStore = new MemoryStore({
      proposer: { propose: (cs) => new Promise<void>((resolve, reject) => setImmediate(() => { try { store.apply(cs); resolve(); } catch (e) { reject(e); } })) },
    });
    return { store, api: new ControlApi(store) };
  };

  it("lets only one of two services publish one port", async () => {
    const { store, api } = deferred();
    const p = { name: "", protocol: 0, targetPort: 80, publishedPort: 9000, publishMode: 0 };
    const results = await Promise.allSettled(["a", "b"].map((n) => api.createService({ spec: spec(n, (s) => (s.endpoint = { mode: 0, ports: [p] })) })));
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(store.view((tx) => tx.find("service")).length).toBe(1);
  });

  it("lets only one of two services take one name, refusing the other in the API's words", async () => {
    const { store, api } = deferred();
    const results = await Promise.allSettled([api.createService({ spec: spec("web") }), api.createService({ spec: spec("web") })]);
    const refusedOne = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(refusedOne.reason.message).toBe("service web already exists: pick another name or update it");
    expect(store.view((tx) => tx.find("service")).length).toBe(1);
  });

  it("words a name taken by a write outside the API as its own refusal", async () => {
    const { store, api } = deferred();
    // Both check the name before either is applied; the other write is applied first.
    const theirs = store.update((tx) => tx.create("service", { id: "", specVersion: 1, spec: spec("web") }));
    const mine = api.createService({ spec: spec("web") });
    await theirs;
    await expect(mine).rejects.toMatchObject({ code: status.ALREADY_EXISTS, message: "service web already exists: pick another name or update it" });
  });
});
