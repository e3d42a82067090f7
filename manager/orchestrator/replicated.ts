// The replicated orchestrator's decision: keep exactly `replicas` slots filled with live tasks.
import { type Service, type Task, TaskState } from "../../proto/gen/cluster.js";
import { byServiceId, type ReadTx } from "../store/types.js";
import { type TaskChange, isLive, newTask, observed, withDesired } from "./changes.js";
import { mayRun, nodeLost, restartDelay, shouldRestart } from "./restart.js";

export function replicasOf(s: Service): number {
  return s.spec?.mode?.$case === "replicated" ? s.spec.mode.value.replicas : 0;
}

/** Replaces lost or ended tasks and lets delayed ones run. Returns the slots' live tasks after it. */
export function supervise(tx: ReadTx, service: Service, tasks: readonly Task[], now: number, out: TaskChange[]): Map<number, Task[]> {
  const bySlot = new Map<number, Task[]>();
  for (const t of tasks) {
    let s = bySlot.get(t.slot);
    if (!s) bySlot.set(t.slot, (s = []));
    s.push(t);
  }
  const live = new Map<number, Task[]>();
  for (const [slot, history] of bySlot) {
    const keep: Task[] = [];
    for (const t of history.filter(isLive)) {
      const lost = t.nodeId !== "" && nodeLost(tx.get("node", t.nodeId));
      if (lost || shouldRestart(service, t, history, now)) {
        out.push(withDesired(t, TaskState.TASK_STATE_SHUTDOWN));
        const next = newTask(service, slot, "", now, lost ? 0 : restartDelay(service));
        out.push({ op: "create", task: next });
        keep.push(next);
        continue;
      }
      if (mayRun(tx, t, history, now)) {
        out.push(withDesired(t, TaskState.TASK_STATE_RUNNING));
      }
      keep.push(t);
    }
    if (keep.length > 0) live.set(slot, keep);
  }
  return live;
}

/** Slots to give up when scaling down: not-running ones first, then from the nodes holding the most. */
export function slotsToRemove(live: Map<number, Task[]>, excess: number): number[] {
  const running = (ts: Task[]) => ts.some((t) => observed(t) === TaskState.TASK_STATE_RUNNING);
  const idle = [...live].filter(([, ts]) => !running(ts)).map(([s]) => s).sort((a, b) => b - a);
  const chosen = idle.slice(0, excess);
  if (chosen.length === excess) return chosen;
  const byNode = new Map<string, number[]>();
  for (const [slot, ts] of live) {
    if (!running(ts)) continue;
    const node = ts.find((t) => observed(t) === TaskState.TASK_STATE_RUNNING)!.nodeId;
    let l = byNode.get(node);
    if (!l) byNode.set(node, (l = []));
    l.push(slot);
  }
  for (const l of byNode.values()) l.sort((a, b) => a - b);
  while (chosen.length < excess) {
    let fullest = "";
    for (const [n, l] of byNode) {
      const f = byNode.get(fullest);
      if (!f || l.length > f.length || (l.length === f.length && n < fullest)) fullest = n;
    }
    chosen.push(byNode.get(fullest)!.pop()!);
    if (byNode.get(fullest)!.length === 0) byNode.delete(fullest);
  }
  return chosen;
}

export function reconcileReplicated(tx: ReadTx, service: Service, now: number): TaskChange[] {
  const out: TaskChange[] = [];
  const tasks = tx.find("task", byServiceId(service.id));
  const live = supervise(tx, service, tasks, now, out);
  const want = replicasOf(service);
  if (live.size < want) {
    let slot = 1;
    for (let missing = want - live.size; missing > 0; slot++) {
      if (live.has(slot)) continue;
      const t = newTask(service, slot, "", now);
      out.push({ op: "create", task: t });
      live.set(slot, [t]);
      missing--;
    }
  } else if (live.size > want) {
    for (const slot of slotsToRemove(live, live.size - want)) {
      for (const t of live.get(slot)!) if (t.id) out.push(withDesired(t, TaskState.TASK_STATE_REMOVE));
      // A successor created in this very pass is simply not created.
      for (let i = out.length - 1; i >= 0; i--) {
        const c = out[i];
        if (c.op === "create" && c.task.slot === slot && c.task.serviceId === service.id) out.splice(i, 1);
      }
      live.delete(slot);
    }
  }
  if (live.size !== want) throw new Error(`orchestrator invariant: service ${service.id} would have ${live.size} slots, wants ${want}`);
  return out;
}
