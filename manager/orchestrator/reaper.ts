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
 * otherwise each slot keeps its newest `limit` tasks and older dead ones go.
 */
export function reap(tx: ReadTx, limit: number, only?: ReadonlySet<string>): TaskChange[] {
  const out: TaskChange[] = [];
  const slots = new Map<string, Task[]>();
  const tasks = only ? [...only].flatMap((id) => tx.find("task", byServiceId(id))) : tx.find("task");
  for (const t of tasks) {
    if (!tx.get("service", t.serviceId) && t.desiredState < TaskState.TASK_STATE_REMOVE) {
      out.push({ op: "update", task: { ...t, desiredState: TaskState.TASK_STATE_REMOVE } });
      continue;
    }
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
