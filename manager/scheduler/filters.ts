// The node filters, in the order they are tried. The first that refuses a node is the reason
// counted for it when a task fits nowhere.
import { NodeAvailability, NodeState, type Task } from "../../proto/gen/cluster.js";
import { type Constraint, parseConstraints, satisfies } from "./constraint.js";
import { type NodeInfo, hostPortKeys } from "./nodeinfo.js";

/** What every task of one group (same service, same spec version) asks of a node. */
export interface Demand {
  serviceId: string;
  cpus: number;
  memory: number;
  constraints: Constraint[];
  hostPorts: string[];
  maxReplicas: number;
}

export function demandOf(t: Task): Demand {
  const r = t.spec?.resources?.reservations;
  let constraints: Constraint[] = [];
  try {
    constraints = parseConstraints(t.spec?.placement?.constraints ?? []);
  } catch {
    // Refused at service create; a bad constraint already stored matches no node.
    constraints = [{ key: "node.id", op: "==", value: "\u0000" }];
  }
  return {
    serviceId: t.serviceId,
    cpus: r?.nanoCpus ?? 0,
    memory: r?.memoryBytes ?? 0,
    constraints,
    hostPorts: portsOfTask(t),
    maxReplicas: t.spec?.placement?.maxReplicas ?? 0,
  };
}

export function portsOfTask(t: Task): string[] {
  return hostPortKeys(t.endpoint?.ports?.length ? t.endpoint.ports : t.endpoint?.spec?.ports);
}

export interface Filter {
  /** Completes "… on N nodes". */
  reason: string;
  ok(n: NodeInfo, d: Demand): boolean;
}

export const FILTERS: readonly Filter[] = [
  {
    reason: "node not ready or not active",
    ok: (n) => n.node.status?.state === NodeState.NODE_STATE_READY && (n.node.spec?.availability ?? 0) === NodeAvailability.NODE_AVAILABILITY_ACTIVE,
  },
  { reason: "insufficient CPU", ok: (n, d) => d.cpus <= n.availableCpus },
  { reason: "insufficient memory", ok: (n, d) => d.memory <= n.availableMemory },
  { reason: "scheduling constraints not satisfied", ok: (n, d) => satisfies(n.node, d.constraints) },
  { reason: "host-mode port already in use", ok: (n, d) => d.hostPorts.every((p) => !n.hostPorts.has(p)) },
  { reason: "max replicas per node reached", ok: (n, d) => d.maxReplicas === 0 || (n.tasksByService.get(d.serviceId) ?? 0) < d.maxReplicas },
];

/** The filters a node's fitness can change on as tasks are placed (resources, ports, replicas). */
export const STATIC_FILTERS = [FILTERS[0], FILTERS[3]];

export function fits(n: NodeInfo, d: Demand): boolean {
  for (const f of FILTERS) if (!f.ok(n, d)) return false;
  return true;
}

/** "no suitable node (insufficient memory on 5 nodes; scheduling constraints not satisfied on 2 nodes)" */
export function explain(nodes: Iterable<NodeInfo>, d: Demand): string {
  const counts = new Map<string, number>();
  let total = 0;
  for (const n of nodes) {
    total++;
    const f = FILTERS.find((x) => !x.ok(n, d));
    if (f) counts.set(f.reason, (counts.get(f.reason) ?? 0) + 1);
  }
  if (total === 0) return "no suitable node (no nodes in the cluster)";
  const parts = [...counts].map(([r, c]) => `${r} on ${c} node${c === 1 ? "" : "s"}`);
  return `no suitable node (${parts.join("; ")})`;
}
