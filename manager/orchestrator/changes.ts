// What an orchestrator pass decides: task writes, applied through the store in one batch.
import { type Service, type Task, TaskState } from "../../proto/gen/cluster.js";
import { needsAllocation } from "../allocator/plan.js";
import { writeInChunks } from "../store/chunks.js";
import type { Store } from "../store/types.js";

export type TaskChange =
  | { op: "create"; task: Task }
  | { op: "update"; task: Task }
  | { op: "delete"; id: string }
  /** The updater records an update's progress on the service. */
  | { op: "service"; service: Service };

/** A task is live while it is meant to run (its slot counts as filled). */
export function isLive(t: Task): boolean {
  return t.desiredState <= TaskState.TASK_STATE_RUNNING;
}

export function observed(t: Task): TaskState {
  return t.status?.state ?? TaskState.TASK_STATE_NEW;
}

/** The task ended or will never start: it holds nothing and can be reaped once superseded. */
export function isDead(t: Task): boolean {
  const s = observed(t);
  return s > TaskState.TASK_STATE_RUNNING || (!isLive(t) && s < TaskState.TASK_STATE_ASSIGNED);
}

/**
 * A new task for a slot. With a restart delay, or `holdReady` (stop-first updates), it is held
 * at desired READY until the orchestrator lets it run.
 */
export function newTask(service: Service, slot: number, nodeId: string, now: number, delayMs = 0, holdReady = false): Task {
  const name = service.spec?.annotations?.name ?? service.id;
  // NEW waits for the allocator's addresses; a task that needs none is ready to schedule at once.
  const allocate = needsAllocation(service);
  return {
    id: "",
    serviceId: service.id,
    slot,
    nodeId,
    spec: service.spec?.task,
    specVersion: service.specVersion,
    // A restart delay holds the task at READY; the orchestrator lets it run once the delay is over.
    desiredState: delayMs > 0 || holdReady ? TaskState.TASK_STATE_READY : TaskState.TASK_STATE_RUNNING,
    status: {
      state: allocate ? TaskState.TASK_STATE_NEW : TaskState.TASK_STATE_PENDING,
      timestamp: now,
      message: allocate ? "created" : "pending task scheduling",
      err: "",
      pendingReason: "",
      restartNotBefore: delayMs > 0 ? now + delayMs : 0,
    },
    networks: [],
    assignedGenericResources: [],
    endpoint: service.endpoint ?? (service.spec?.endpoint ? { spec: service.spec.endpoint, ports: [], virtualIps: [] } : undefined),
    annotations: { name: slot > 0 ? `${name}.${slot}` : `${name}.${nodeId}`, labels: {} },
  };
}

/** Copy of a task with a later desired state (never an earlier one). */
export function withDesired(t: Task, desired: TaskState): TaskChange {
  if (desired < t.desiredState) throw new Error(`task ${t.id}: desired state cannot move backward`);
  return { op: "update", task: { ...t, desiredState: desired } };
}

/**
 * Writes a pass's changes, several change sets in flight at once. A change that raced with
 * another writer (or with another change of the same pass to the same task, in a change set in
 * flight beside its own) is dropped and decided again on a later pass: resolves with the ids of
 * the services whose changes were refused.
 */
export async function commitChanges(store: Store, changes: readonly TaskChange[]): Promise<Set<string>> {
  if (changes.length === 0) return new Set();
  const { refused } = await writeInChunks(store, changes, (tx, c) => {
    try {
      if (c.op === "create") tx.create("task", c.task);
      else if (c.op === "service") {
        const cur = tx.get("service", c.service.id);
        if (cur && cur.meta?.version === c.service.meta?.version) tx.update("service", c.service);
      } else if (c.op === "delete") {
        if (tx.get("task", c.id)) tx.delete("task", c.id);
      } else {
        const cur = tx.get("task", c.task.id);
        if (!cur || cur.meta?.version !== c.task.meta?.version) return;
        tx.update("task", c.task);
      }
    } catch {
      // Refused on its own (it no longer applies): nothing of it was written; decided again later.
    }
  });
  const services = new Set<string>();
  for (const c of refused) {
    if (c.op === "service") services.add(c.service.id);
    else if (c.op !== "delete") services.add(c.task.serviceId);
  }
  return services;
}
