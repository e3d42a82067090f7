// The task reaper: deletes tasks nobody needs any more, keeping a bounded history per slot.
import type { Cluster, Task } from "../../proto/gen/cluster.js";
import { TaskState } from "../../proto/gen/cluster.js";
import { slotKey } from "../store/kinds.js";
import { byServiceId, type ReadTx } from "../store/types.js";
import { type TaskChange, isDead, isLive } from "./changes.js";

export const DEFAULT_TASK_HISTORY = 5;

export function historyLimit(cluster: Cluster | undefined): number {
  return cluster?.spec?.orchestration?.taskHistoryRetentionLimit || DEFAULT_TASK_HISTORY;
}

/**
 * Removed tasks go as soon as they are dead; tasks of a deleted service are marked for removal;
 * otherwise each slot keeps its newest `limit` tasks and older dead ones go. With `only`, the
 * tasks of those services (existing or deleted); without, every task.
 */
export function reap(tx: ReadTx, limit: number, only?: ReadonlySet<string>): TaskChange[] {
  const ids = only ?? servicesWithTasks(tx);
  return [...ids].flatMap((id) => reapService(tx, id, limit));
}

/** What the reaper does with one service's tasks (see reap). */
export function reapService(tx: ReadTx, serviceId: string, limit: number): TaskChange[] {
  const out: TaskChange[] = [];
  const tasks = tx.find("task", byServiceId(serviceId));
  if (!tx.get("service", serviceId)) {
    for (const t of tasks) {
      if (t.desiredState < TaskState.TASK_STATE_REMOVE) out.push({ op: "update", task: { ...t, desiredState: TaskState.TASK_STATE_REMOVE } });
      else if (isDead(t)) out.push({ op: "delete", id: t.id });
    }
    return out;
  }
  const slots = new Map<string, Task[]>();
  for (const t of tasks) {
    if (t.desiredState === TaskState.TASK_STATE_REMOVE && isDead(t)) {
      out.push({ op: "delete", id: t.id });
      continue;
    }
    const k = slotKey(t.serviceId, t.slot, t.nodeId);
    let l = slots.get(k);
    if (!l) slots.set(k, (l = []));
    l.push(t);
  }
  for (const history of slots.values()) {
    if (history.length <= limit) continue;
    history.sort((a, b) => (b.meta?.version ?? 0) - (a.meta?.version ?? 0));
    for (const t of history.slice(limit)) if (!isLive(t) && isDead(t)) out.push({ op: "delete", id: t.id });
  }
  return out;
}

/**
 * Every service id some task names, existing or deleted: one scan of the tasks, but only a
 * set lookup per task (grouping 100,000 tasks by slot at once held a leader's thread for half
 * a second, past Raft's election timeout; grouping is now done a service at a time).
 */
export function servicesWithTasks(tx: ReadTx): Set<string> {
  const ids = new Set<string>();
  for (const t of tx.find("task")) ids.add(t.serviceId);
  return ids;
}
