import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { NodeAvailability, NodeRole, NodeState, type Node } from "../../../proto/gen/cluster.js";
import { checkJoinToken, tokenRole } from "../../../manager/ca/tokens.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { ControlApi } from "../../../manager/controlapi/api.js";
import { node } from "../scheduler/fixtures.js";
import { refused, setup } from "./fixtures.js";

const manager = (id: string, state = NodeState.NODE_STATE_READY) => node(id, { role: NodeRole.NODE_ROLE_MANAGER, state });
const role = (n: Node, r: NodeRole) => ({ ...n.spec!, role: r });

describe("UpdateNode", () => {
  it("writes availability and labels at the version read", async () => {
    const { api } = await setup({ nodes: [node("w1")] });
    const n = await api.getNode({ ref: "w1" });
    const u = await api.updateNode({ ref: "w1", version: n.meta!.version, spec: { ...n.spec!, availability: NodeAvailability.NODE_AVAILABILITY_DRAIN, annotations: { name: "w1", labels: { zone: "east" } } } });
    expect(u.spec?.availability).toBe(NodeAvailability.NODE_AVAILABILITY_DRAIN);
    expect(u.spec?.annotations?.labels).toEqual({ zone: "east" });
    expect(u.meta!.version).toBeGreaterThan(n.meta!.version);
  });

  it("refuses a stale version, an unknown availability or role, and a bad label name", async () => {
    const { store, api } = await setup({ nodes: [node("w1")] });
    const n = await api.getNode({ ref: "w1" });
    const v = n.meta!.version;
    await refused(store, () => api.updateNode({ ref: "w1", version: v + 1, spec: n.spec }), status.ABORTED, `node w1 was changed since you read it (version ${v}, you had ${v + 1}): read it again and retry`);
    await refused(store, () => api.updateNode({ ref: "w1", version: v, spec: { ...n.spec!, availability: 7 as NodeAvailability } }), status.INVALID_ARGUMENT, "unknown node availability 7: use active, pause or drain");
    await refused(store, () => api.updateNode({ ref: "w1", version: v, spec: { ...n.spec!, role: 3 as NodeRole } }), status.INVALID_ARGUMENT, "unknown node role 3: use worker or manager");
    await refused(store, () => api.updateNode({ ref: "w1", version: v, spec: { ...n.spec!, annotations: { name: "w1", labels: { "a b": "x" } } } }), status.INVALID_ARGUMENT, 'invalid node label name "a b": use a name without spaces or "=", e.g. zone=east');
    await refused(store, () => api.updateNode({ ref: "w1", version: v }), status.INVALID_ARGUMENT, "no spec given for node w1: send its whole new spec");
  });

  it("promotes a worker, and demotes a manager while the others keep a quorum", async () => {
    const { api } = await setup({ nodes: [manager("m1"), manager("m2"), manager("m3"), node("w1")] });
    const w = await api.getNode({ ref: "w1" });
    expect((await api.updateNode({ ref: "w1", version: w.meta!.version, spec: role(w, NodeRole.NODE_ROLE_MANAGER) })).spec?.role).toBe(NodeRole.NODE_ROLE_MANAGER);
    const m = await api.getNode({ ref: "m3" });
    expect((await api.updateNode({ ref: "m3", version: m.meta!.version, spec: role(m, NodeRole.NODE_ROLE_WORKER) })).spec?.role).toBe(NodeRole.NODE_ROLE_WORKER);
  });

  it("refuses to demote the last manager", async () => {
    const { store, api } = await setup({ nodes: [manager("m1"), node("w1")] });
    const m = await api.getNode({ ref: "m1" });
    await refused(store, () => api.updateNode({ ref: "m1", version: m.meta!.version, spec: role(m, NodeRole.NODE_ROLE_WORKER) }), status.FAILED_PRECONDITION, "node m1 is the last manager: promote another node first, or the swarm would have none");
  });

  it("refuses a demotion that leaves fewer reachable managers than a majority of the rest", async () => {
    const { store, api } = await setup({ nodes: [manager("m1"), manager("m2"), manager("m3", NodeState.NODE_STATE_DOWN)] });
    const m1 = await api.getNode({ ref: "m1" });
    await refused(store, () => api.updateNode({ ref: "m1", version: m1.meta!.version, spec: role(m1, NodeRole.NODE_ROLE_WORKER) }), status.FAILED_PRECONDITION, "demoting m1 would cost the swarm its quorum: only 1 of the other 2 managers are reachable; bring them back first");
    // Demoting the one that is down leaves both reachable ones.
    const m3 = await api.getNode({ ref: "m3" });
    expect((await api.updateNode({ ref: "m3", version: m3.meta!.version, spec: role(m3, NodeRole.NODE_ROLE_WORKER) })).spec?.role).toBe(NodeRole.NODE_ROLE_WORKER);
  });

  it("asks the given reachability, e.g. Raft's, instead of node status", async () => {
    const { store, api } = await setup({ nodes: [manager("m1"), manager("m2"), manager("m3")], api: { reachable: (n) => n.id !== "m2" } });
    const m3 = await api.getNode({ ref: "m3" });
    await refused(store, () => api.updateNode({ ref: "m3", version: m3.meta!.version, spec: role(m3, NodeRole.NODE_ROLE_WORKER) }), status.FAILED_PRECONDITION, /^demoting m3 would cost the swarm its quorum/);
  });
});

describe("RemoveNode", () => {
  it("removes a node that is down, or any worker with force", async () => {
    const { api } = await setup({ nodes: [manager("m1"), node("gone", { state: NodeState.NODE_STATE_DOWN }), node("w1")] });
    await api.removeNode({ ref: "gone", force: false });
    await api.removeNode({ ref: "w1", force: true });
    expect((await api.listNodes()).nodes.map((n) => n.id)).toEqual(["m1"]);
  });

  it("refuses a node that is up without force, and a manager even with it", async () => {
    const { store, api } = await setup({ nodes: [manager("m1"), manager("m2", NodeState.NODE_STATE_DOWN), node("w1")] });
    await refused(store, () => api.removeNode({ ref: "w1", force: false }), status.FAILED_PRECONDITION, "node w1 is not down and can't be removed: use --force, or run shoal swarm leave on it");
    await refused(store, () => api.removeNode({ ref: "m2", force: true }), status.FAILED_PRECONDITION, "node m2 is a manager and can't be removed: demote it first (shoal node demote m2), then remove it");
    await refused(store, () => api.removeNode({ ref: "w9", force: true }), status.NOT_FOUND, "no such node: w9");
  });
});

describe("GetJoinTokens", () => {
  it("answers the stored tokens, and rotates only the one asked for", async () => {
    const { store, api } = await setup();
    const first = await api.getJoinTokens({ rotateWorker: false, rotateManager: false });
    const version = store.version;
    expect(await api.getJoinTokens({ rotateWorker: false, rotateManager: false })).toEqual(first);
    expect(store.version).toBe(version); // reading tokens writes nothing
    const rotated = await api.getJoinTokens({ rotateWorker: true, rotateManager: false });
    expect(rotated.manager).toBe(first.manager);
    expect(rotated.worker).not.toBe(first.worker);
    checkJoinToken(rotated.worker);
    const cluster = store.view((tx) => tx.get("cluster", "cluster1"))!;
    expect(tokenRole(cluster, rotated.worker)).toBe(NodeRole.NODE_ROLE_WORKER);
    expect(tokenRole(cluster, first.worker)).toBeUndefined(); // the old one no longer joins
    // Both tokens still pin the same root CA digest.
    expect(rotated.worker.split("-")[2]).toBe(first.worker.split("-")[2]);
    const again = await api.getJoinTokens({ rotateWorker: false, rotateManager: true });
    expect(again.worker).toBe(rotated.worker);
    expect(tokenRole(store.view((tx) => tx.get("cluster", "cluster1"))!, again.manager)).toBe(NodeRole.NODE_ROLE_MANAGER);
  });

  it("says the swarm is starting when there is no cluster object yet", async () => {
    const store = new MemoryStore();
    const api = new ControlApi(store);
    await refused(store, () => api.getJoinTokens({ rotateWorker: false, rotateManager: false }), status.UNAVAILABLE, "the swarm is still starting: try again in a moment");
  });
});
