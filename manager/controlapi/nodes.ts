// Nodes as the Control API changes them: a new spec (availability, labels, role) and removal.
// A role change only writes the spec; a separate loop carries it into the Raft membership, so
// the checks here are what keeps that loop from ever costing the swarm its quorum.
import { NodeAvailability, NodeRole, NodeSpec, NodeState, type Node } from "../../proto/gen/cluster.js";
import type { RemoveNodeRequest, UpdateNodeRequest } from "../../proto/gen/swarm.js";
import { byRole, type ReadTx, type WriteTx } from "../store/types.js";
import { invalid, outOfDate, precondition } from "./errors.js";
import { resolveNode } from "./refs.js";

/** Whether a manager counts towards quorum now. */
export type Reachable = (node: Node) => boolean;

/** By default, a manager is reachable while its agent's heartbeats keep it ready. */
export const readyIsReachable: Reachable = (n) => n.status?.state === NodeState.NODE_STATE_READY;

export const nodeName = (n: Node): string => n.description?.hostname || n.spec?.annotations?.name || n.id;

/** Every node, by hostname. */
export function listNodes(tx: ReadTx): Node[] {
  return tx.find("node").sort((a, b) => nodeName(a).localeCompare(nodeName(b)) || a.id.localeCompare(b.id));
}

/** Replaces the spec of the node read at `req.version`. Returns its id. */
export function updateNode(tx: WriteTx, req: UpdateNodeRequest, reachable: Reachable): string {
  const node = resolveNode(tx, req.ref);
  const name = nodeName(node);
  const had = node.meta?.version ?? 0;
  if (req.version !== had) throw outOfDate(`node ${name} was changed since you read it (version ${had}, you had ${req.version}): read it again and retry`);
  if (!req.spec) throw invalid(`no spec given for node ${name}: send its whole new spec`);
  const spec = NodeSpec.fromPartial(req.spec);
  spec.annotations ??= { name: "", labels: {} };
  if (!(spec.role in NodeRole) || spec.role < 0) throw invalid(`unknown node role ${spec.role}: use worker or manager`);
  if (!(spec.availability in NodeAvailability) || spec.availability < 0) throw invalid(`unknown node availability ${spec.availability}: use active, pause or drain`);
  for (const key of Object.keys(spec.annotations.labels)) {
    if (key.trim() === "" || /[=\s]/.test(key)) throw invalid(`invalid node label name "${key}": use a name without spaces or "=", e.g. zone=east`);
  }
  if (node.spec?.role === NodeRole.NODE_ROLE_MANAGER && spec.role === NodeRole.NODE_ROLE_WORKER) checkDemotion(tx, node, reachable);
  tx.update("node", { ...node, spec });
  return node.id;
}

/**
 * A demotion must leave a manager, and a majority of the managers that remain must be
 * reachable, or the Raft group would lose its quorum as the member leaves.
 */
function checkDemotion(tx: ReadTx, node: Node, reachable: Reachable): void {
  const name = nodeName(node);
  const rest = tx.find("node", byRole(NodeRole.NODE_ROLE_MANAGER)).filter((n) => n.id !== node.id);
  if (rest.length === 0) throw precondition(`node ${name} is the last manager: promote another node first, or the swarm would have none`);
  const up = rest.filter(reachable).length;
  const majority = Math.floor(rest.length / 2) + 1;
  if (up < majority) {
    throw precondition(`demoting ${name} would cost the swarm its quorum: only ${up} of the other ${rest.length} managers are reachable; bring them back first`);
  }
}

/** Deletes a node that is down (or any worker with `force`); managers must be demoted first. */
export function removeNode(tx: WriteTx, req: RemoveNodeRequest): void {
  const node = resolveNode(tx, req.ref);
  const name = nodeName(node);
  if (node.spec?.role === NodeRole.NODE_ROLE_MANAGER) throw precondition(`node ${name} is a manager and can't be removed: demote it first (shoal node demote ${name}), then remove it`);
  if (!req.force && node.status?.state !== NodeState.NODE_STATE_DOWN) {
    throw precondition(`node ${name} is not down and can't be removed: use --force, or run shoal swarm leave on it`);
  }
  tx.delete("node", node.id);
}
