// The kinds of object the store holds, how each is indexed, and how one maps to a StoreAction.
import { Cluster, Network, Node, Service, StoreAction, StoreActionKind, Task, TaskState } from "../../proto/gen/cluster.js";

export interface ObjectOf {
  cluster: Cluster;
  node: Node;
  service: Service;
  task: Task;
  network: Network;
}
export type Kind = keyof ObjectOf;
export type StoreObject = ObjectOf[Kind];
export const KINDS: readonly Kind[] = ["cluster", "node", "service", "task", "network"];

/** Secondary indexes a `find` can use. Each maps an object to the keys it is found under. */
export type IndexName = "name" | "serviceId" | "nodeId" | "slot" | "desiredState" | "taskState" | "role" | "membership" | "runningOf" | "allocation";

/** Kinds whose names are unique (case-insensitive): a second object with the same name is refused. */
export const UNIQUE_NAMES: ReadonlySet<Kind> = new Set<Kind>(["cluster", "service", "network"]);

export function nameOf(kind: Kind, o: StoreObject): string {
  switch (kind) {
    case "task":
      return (o as Task).annotations?.name ?? "";
    case "node": {
      const n = o as Node;
      return n.spec?.annotations?.name || n.description?.hostname || "";
    }
    default:
      return (o as Cluster | Service | Network).spec?.annotations?.name ?? "";
  }
}

export function slotKey(serviceId: string, slot: number, nodeId: string): string {
  // Global services have no slot numbers: the node names the slot.
  return slot > 0 ? `${serviceId}/${slot}` : `${serviceId}@${nodeId}`;
}

/** One index's key for an object, or undefined when the object is not found under that index. */
export function keyOf(kind: Kind, o: StoreObject, index: IndexName): string | undefined {
  switch (index) {
    case "name": {
      const name = nameOf(kind, o);
      return name ? name.toLowerCase() : undefined;
    }
    case "serviceId":
      return kind === "task" ? (o as Task).serviceId : undefined;
    case "nodeId":
      return kind === "task" ? (o as Task).nodeId : undefined;
    case "slot":
      return kind === "task" ? slotKey((o as Task).serviceId, (o as Task).slot, (o as Task).nodeId) : undefined;
    case "desiredState":
      return kind === "task" ? String((o as Task).desiredState) : undefined;
    case "taskState":
      return kind === "task" ? String((o as Task).status?.state ?? 0) : undefined;
    case "role":
      return kind === "node" ? String((o as Node).spec?.role ?? 0) : undefined;
    case "membership":
      return kind === "node" ? String((o as Node).membership) : undefined;
    case "runningOf":
      return kind === "task" && isRunning(o as Task) ? (o as Task).serviceId : undefined;
    case "allocation":
      return kind === "task" && forAllocator(o as Task) ? ALLOCATION : undefined;
  }
}

/**
 * A task the allocator and the network views read: one on some network (it holds addresses, or
 * held them), or one still NEW (waiting for them). Tasks on no network, most of a large
 * cluster's, are created PENDING and never in it.
 */
function forAllocator(t: Task): boolean {
  return t.networks.length > 0 || (t.status?.state ?? TaskState.TASK_STATE_NEW) === TaskState.TASK_STATE_NEW;
}

export const ALLOCATION = "1";

/** Running and meant to run: what `service ls` counts as a service's running replicas. */
function isRunning(t: Task): boolean {
  return t.desiredState === TaskState.TASK_STATE_RUNNING && t.status?.state === TaskState.TASK_STATE_RUNNING;
}

const PENDING = String(TaskState.TASK_STATE_PENDING);

/**
 * The index keys the store keeps for an object, for what the control loops ask on every pass:
 * tasks by service and node, the scheduler's pending queue, each service's running tasks (so
 * `service ls` counts them without reading every task: the 100,000-task bench polled it 4 times
 * a second), the tasks the allocator reads (a pass over every task, woken by each node joining,
 * held a 5,000-node leader's thread for most of a mass join), names of the named kinds, nodes by role and membership. Every task write touches
 * each of these, so no more are kept (a task's
 * state moving through a 100,000-entry set per state cost every manager more than the write).
 * A `find` by anything else scans (isKept says which).
 */
export function indexKeys(kind: Kind, o: StoreObject): (string | undefined)[] {
  if (kind === "task") {
    const t = o as Task;
    return [
      t.serviceId,
      // Not under "" while unplaced: the scheduler finds those by the pending key, and a set of
      // every new task, filled and emptied again by each placement, cost more than the rest.
      t.nodeId || undefined,
      (t.status?.state ?? 0) === TaskState.TASK_STATE_PENDING ? PENDING : undefined,
      isRunning(t) ? t.serviceId : undefined,
      forAllocator(t) ? ALLOCATION : undefined,
    ];
  }
  const name = nameOf(kind, o).toLowerCase() || undefined;
  if (kind !== "node") return [name];
  const n = o as Node;
  return [name, String(n.spec?.role ?? 0), String(n.membership)];
}

/** The indexes kept for each kind, in the order indexKeys gives their keys. */
export const KEPT_INDEXES: Readonly<Record<Kind, readonly IndexName[]>> = {
  task: ["serviceId", "nodeId", "taskState", "runningOf", "allocation"],
  node: ["name", "role", "membership"],
  cluster: ["name"],
  service: ["name"],
  network: ["name"],
};

/** Whether `find(kind, {index, value})` is answered from a kept index (else by a scan). */
export function isKept(kind: Kind, index: IndexName, value: string): boolean {
  if (kind === "task") return index === "serviceId" || (index === "nodeId" && value !== "") || index === "runningOf" || (index === "taskState" && value === PENDING) || index === "allocation";
  return index === "name" || (kind === "node" && (index === "role" || index === "membership"));
}

export function toAction(action: StoreActionKind, kind: Kind, o: StoreObject): StoreAction {
  return { action, target: { $case: kind, value: o } as StoreAction["target"] };
}

export function fromAction(a: StoreAction): { kind: Kind; object: StoreObject } {
  if (!a.target) throw new Error("store action without a target object");
  return { kind: a.target.$case, object: a.target.value };
}
