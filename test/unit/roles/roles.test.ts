// Raft membership follows the nodes' desired roles, one change at a time.
import { describe, expect, it } from "vitest";
import { NodeRole, type Node } from "../../../proto/gen/cluster.js";
import { decideRoles } from "../../../manager/roles/roles.js";
import { roleToSend } from "../../../manager/dispatcher/dispatcher.js";

const node = (id: string, role: NodeRole, raftId = 0): Node => ({
  id,
  spec: { annotations: { name: "", labels: {} }, role, availability: 0 },
  managerStatus: raftId ? { raftId, addr: "", leader: false, reachability: 0 } : undefined,
  membership: 1,
});

describe("the role manager", () => {
  it("does nothing while roles and membership agree", () => {
    expect(decideRoles([node("a", NodeRole.NODE_ROLE_MANAGER, 1), node("w", NodeRole.NODE_ROLE_WORKER)], new Set([1]), 1)).toBeUndefined();
  });

  it("removes a demoted member from the group", () => {
    const nodes = [node("a", NodeRole.NODE_ROLE_MANAGER, 1), node("b", NodeRole.NODE_ROLE_WORKER, 2), node("c", NodeRole.NODE_ROLE_MANAGER, 3)];
    expect(decideRoles(nodes, new Set([1, 2, 3]), 1)).toEqual({ op: "remove", nodeId: "b", raftId: 2 });
  });

  it("hands leadership to another manager first when the leader itself is demoted", () => {
    const nodes = [node("a", NodeRole.NODE_ROLE_WORKER, 1), node("b", NodeRole.NODE_ROLE_MANAGER, 2)];
    expect(decideRoles(nodes, new Set([1, 2]), 1)).toEqual({ op: "transfer", to: 2 });
  });

  it("tells a demoted manager it is a worker only once the group has let it go", () => {
    expect(roleToSend(node("b", NodeRole.NODE_ROLE_WORKER, 2))).toBe(NodeRole.NODE_ROLE_MANAGER);
    expect(roleToSend(node("b", NodeRole.NODE_ROLE_WORKER))).toBe(NodeRole.NODE_ROLE_WORKER);
    expect(roleToSend(node("c", NodeRole.NODE_ROLE_MANAGER))).toBe(NodeRole.NODE_ROLE_MANAGER);
  });
});
