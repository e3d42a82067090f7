// The kinds of object the store holds, how each is indexed, and how one maps to a StoreAction.
import { Cluster, Network, Node, Service, StoreAction, StoreActionKind, Task } from "../../proto/gen/cluster.js";

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
export type IndexName = "name" | "serviceId" | "nodeId" | "slot" | "desiredState" | "taskState" | "role" | "membership";

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

export function indexKeys(kind: Kind, o: StoreObject): Partial<Record<IndexName, string>> {
  const keys: Partial<Record<IndexName, string>> = {};
  const name = nameOf(kind, o);
  if (name) keys.name = name.toLowerCase();
  if (kind === "task") {
    const t = o as Task;
    keys.serviceId = t.serviceId;
    keys.nodeId = t.nodeId;
    keys.slot = slotKey(t.serviceId, t.slot, t.nodeId);
    keys.desiredState = String(t.desiredState);
    keys.taskState = String(t.status?.state ?? 0);
  } else if (kind === "node") {
    const n = o as Node;
    keys.role = String(n.spec?.role ?? 0);
    keys.membership = String(n.membership);
  }
  return keys;
}

export function toAction(action: StoreActionKind, kind: Kind, o: StoreObject): StoreAction {
  return { action, target: { $case: kind, value: o } as StoreAction["target"] };
}

export function fromAction(a: StoreAction): { kind: Kind; object: StoreObject } {
  if (!a.target) throw new Error("store action without a target object");
  return { kind: a.target.$case, object: a.target.value };
}
