// The allocator's place in the pipeline: a new task becomes PENDING (schedulable) once what it
// needs is allocated. No network addresses are allocated yet: every NEW task passes straight on.
import { TaskState } from "../../proto/gen/cluster.js";
import { byTaskState, type ReadTx, type Store } from "../store/types.js";

export function readyForScheduling(tx: ReadTx): string[] {
  return tx.find("task", byTaskState(TaskState.TASK_STATE_NEW)).filter((t) => t.desiredState <= TaskState.TASK_STATE_RUNNING).map((t) => t.id);
}

export async function allocate(store: Store, now: number): Promise<number> {
  const ids = store.view(readyForScheduling);
  await store.batch(async (b) => {
    for (const id of ids) {
      await b.update((tx) => {
        const t = tx.get("task", id);
        if (!t || t.status?.state !== TaskState.TASK_STATE_NEW) return;
        tx.update("task", { ...t, status: { ...t.status, state: TaskState.TASK_STATE_PENDING, timestamp: now, message: "pending task scheduling" } });
      });
    }
  });
  return ids.length;
}
