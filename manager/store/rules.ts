// Rules every write must keep, checked both when a transaction writes and when a change set is
// applied (so a Raft follower refuses exactly what the leader refuses).
import type { Task } from "../../proto/gen/cluster.js";
import { InvariantError } from "./errors.js";
import type { Kind, StoreObject } from "./kinds.js";

export function checkTransition(kind: Kind, old: StoreObject, next: StoreObject): void {
  if (kind !== "task") return;
  const a = old as Task;
  const b = next as Task;
  const from = a.status?.state ?? 0;
  const to = b.status?.state ?? 0;
  if (to < from) throw new InvariantError(`task ${a.id}: state cannot move backward (${from} → ${to})`);
  if (a.serviceId !== b.serviceId) throw new InvariantError(`task ${a.id}: service id cannot change`);
}
