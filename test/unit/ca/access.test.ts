// Who may call what: the pure verdicts, the method policy, and the node registry following a
// real store, so that removing or demoting a node is seen by the very next check.
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { authorize, CLUSTER_ACCESS, NodeRegistry, type Member } from "../../../manager/ca/access.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { NodeRole, type Node } from "../../../proto/gen/cluster.js";
import { ADMIN_OU, adminIdentity, identityOf } from "../../../manager/ca/identity.js";
import { CLUSTER, manager, worker } from "./fixtures.js";

const asManager: Member = { role: NodeRole.NODE_ROLE_MANAGER, raftMember: true };
const asWorker: Member = { role: NodeRole.NODE_ROLE_WORKER, raftMember: false };
const leaving: Member = { role: NodeRole.NODE_ROLE_WORKER, raftMember: true }; // demoted, not yet out of Raft

const code = (v: ReturnType<typeof authorize>) => (v.ok ? "ok" : status[v.code]);

describe("authorize", () => {
  it("lets anyone make public calls (joining), and nobody without a certificate make others", () => {
    expect(code(authorize(undefined, "public", CLUSTER, undefined))).toBe("ok");
    for (const access of ["node", "manager", "control", "raft"] as const) expect(code(authorize(undefined, access, CLUSTER, undefined))).toBe("UNAUTHENTICATED");
  });

  it("refuses a certificate of another swarm and a node removed from this one", () => {
    expect(code(authorize({ ...worker(), clusterId: "other" }, "node", CLUSTER, asWorker))).toBe("PERMISSION_DENIED");
    const removed = authorize(worker(), "node", CLUSTER, undefined);
    expect(code(removed)).toBe("PERMISSION_DENIED");
    expect(!removed.ok && removed.message).toMatch(/was removed from the swarm/);
  });

  it("gives the control API and the agents to managers only, by certificate and by the store's current role", () => {
    for (const access of ["manager", "control"] as const) {
      expect(code(authorize(manager(), access, CLUSTER, asManager))).toBe("ok");
      expect(code(authorize(worker(), access, CLUSTER, asWorker))).toBe("PERMISSION_DENIED");
      // demoted: the certificate still says manager until renewed, the store no longer does
      expect(code(authorize(manager(), access, CLUSTER, leaving))).toBe("PERMISSION_DENIED");
      // promoted, certificate not yet renewed
      expect(code(authorize(worker(), access, CLUSTER, asManager))).toBe("PERMISSION_DENIED");
    }
    const w = authorize(worker(), "control", CLUSTER, asWorker);
    expect(!w.ok && w.message).toMatch(/is a worker: only managers may use the control API/);
  });

  it("gives an admin client of this swarm the control API and nothing else, without asking the store", () => {
    const admin = adminIdentity("alice", CLUSTER);
    // No node is named alice: an admin client is not one, and needs not be.
    expect(code(authorize(admin, "control", CLUSTER, undefined))).toBe("ok");
    expect(code(authorize(admin, "control", CLUSTER, undefined, false))).toBe("ok");
    expect(code(authorize(admin, "public", CLUSTER, undefined))).toBe("ok");
    for (const access of ["node", "manager", "raft"] as const) {
      // not even when a manager node has the admin's name
      const v = authorize(adminIdentity("node-m1", CLUSTER), access, CLUSTER, asManager);
      expect(code(v)).toBe("PERMISSION_DENIED");
      expect(!v.ok && v.message).toMatch(/admin client node-m1 of swarm cluster1 may use the control API only/);
    }
    expect(code(authorize(adminIdentity("alice", "other"), "control", CLUSTER, undefined))).toBe("PERMISSION_DENIED");
  });

  it("keeps Raft open to a demoted manager until it has left the group", () => {
    expect(code(authorize(manager(), "raft", CLUSTER, leaving))).toBe("ok");
    expect(code(authorize(manager(), "raft", CLUSTER, asWorker))).toBe("PERMISSION_DENIED");
    expect(code(authorize(worker(), "raft", CLUSTER, asWorker))).toBe("PERMISSION_DENIED");
  });

  it("without a store (a worker's server) decides by the certificate alone", () => {
    expect(code(authorize(manager(), "manager", CLUSTER, undefined, false))).toBe("ok");
    expect(code(authorize(worker(), "manager", CLUSTER, undefined, false))).toBe("PERMISSION_DENIED");
  });
});

describe("identities", () => {
  it("reads an admin client from OU swarm-admin, and nothing from an OU not ours", () => {
    expect(identityOf({ CN: "alice", OU: ADMIN_OU, O: CLUSTER })).toEqual(adminIdentity("alice", CLUSTER));
    expect(identityOf({ CN: "alice", OU: ADMIN_OU, O: CLUSTER })?.admin).toBe(true);
    expect(identityOf({ CN: "node-w1", OU: "swarm-worker", O: CLUSTER })?.admin).toBeUndefined();
    expect(identityOf({ CN: "alice", OU: "swarm-root", O: CLUSTER })).toBeUndefined();
    expect(identityOf({ CN: "a,OU=swarm-manager", OU: ADMIN_OU, O: CLUSTER })).toBeUndefined();
  });
});

describe("the cluster port's policy", () => {
  it("names the access of every service, public only for joining, and refuses the unknown", () => {
    expect(CLUSTER_ACCESS("/shoal.swarm.Dispatcher/Join")).toBe("public");
    expect(CLUSTER_ACCESS("/shoal.swarm.Dispatcher/Session")).toBe("node");
    expect(CLUSTER_ACCESS("/shoal.swarm.Control/ListNodes")).toBe("control");
    expect(CLUSTER_ACCESS("/shoal.swarm.Control/IssueClientCertificate")).toBe("control");
    expect(CLUSTER_ACCESS("/shoal.raft.transport.RaftTransport/Send")).toBe("raft");
    expect(CLUSTER_ACCESS("/shoal.swarm.Agent/TaskLogs")).toBe("manager");
    expect(CLUSTER_ACCESS("/shoal.swarm.Swarm/Init")).toBeUndefined();
    expect(CLUSTER_ACCESS("/shoal.swarm.Dispatcher/JoinX")).toBe("node");
  });
});

const node = (id: string, role: NodeRole, raftId = 0): Node => ({
  id,
  spec: { annotations: { name: "", labels: {} }, role, availability: 0 },
  managerStatus: raftId ? { raftId, addr: "", leader: false, reachability: 0 } : undefined,
  membership: 1,
});

describe("the node registry", () => {
  it("with selfId, knows nothing until the store lists that node (a joining manager's empty store)", async () => {
    const store = new MemoryStore();
    const registry = new NodeRegistry();
    const off = registry.follow(store, "m2");
    expect(registry.known).toBe(false);
    await store.update((tx) => tx.create("node", node("m1", NodeRole.NODE_ROLE_MANAGER, 7)));
    expect(registry.known).toBe(false);
    await store.update((tx) => tx.create("node", node("m2", NodeRole.NODE_ROLE_MANAGER, 8)));
    expect(registry.known).toBe(true);
    expect(registry.member("m1")).toEqual(asManager);
    off();
  });

  it("follows the store: a removed or demoted node is seen as soon as the write returns", async () => {
    const store = new MemoryStore();
    await store.update((tx) => {
      tx.create("node", node("m1", NodeRole.NODE_ROLE_MANAGER, 7));
      tx.create("node", node("w1", NodeRole.NODE_ROLE_WORKER));
    });
    const registry = new NodeRegistry();
    expect(registry.known).toBe(false);
    let changes = 0;
    registry.onChange(() => changes++);
    const off = registry.follow(store);
    expect(registry.member("m1")).toEqual(asManager);
    expect(registry.member("w1")).toEqual(asWorker);

    await store.update((tx) => tx.delete("node", "w1"));
    expect(registry.member("w1")).toBeUndefined();
    await store.update((tx) => {
      const m = tx.get("node", "m1")!;
      tx.update("node", { ...m, spec: { ...m.spec!, role: NodeRole.NODE_ROLE_WORKER } });
    });
    expect(registry.member("m1")).toEqual(leaving);
    expect(changes).toBeGreaterThanOrEqual(3);

    off();
    expect(registry.known).toBe(false);
    expect(registry.member("m1")).toBeUndefined();
    await store.update((tx) => tx.create("node", node("w2", NodeRole.NODE_ROLE_WORKER)));
    expect(registry.member("w2")).toBeUndefined();
  });
});
