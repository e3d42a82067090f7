// Restart supervision: whether a task that ended gets a successor in its slot, and when.
import { type Service, type Task, RestartCondition, TaskState } from "../../proto/gen/cluster.js";
import { NodeAvailability, NodeState, type Node } from "../../proto/gen/cluster.js";
import type { ReadTx } from "../store/types.js";
import { isLive, observed } from "./changes.js";

/** Swarm's default restart delay. */
export const DEFAULT_RESTART_DELAY_MS = 5_000;

export function restartDelay(service: Service): number {
  const r = service.spec?.task?.restart;
  return r ? r.delayMs : DEFAULT_RESTART_DELAY_MS;
}

/**
 * A task that ended while meant to run is restarted per its policy, within max_attempts over
 * the window. `slotTasks` is the slot's history (attempts are counted from it).
 */
export function shouldRestart(service: Service, t: Task, slotTasks: readonly Task[], now: number): boolean {
  const policy = service.spec?.task?.restart;
  const s = observed(t);
  if (s <= TaskState.TASK_STATE_RUNNING || !isLive(t)) return false;
  const condition = policy?.condition ?? RestartCondition.RESTART_CONDITION_ANY;
  if (condition === RestartCondition.RESTART_CONDITION_NONE) return false;
  if (condition === RestartCondition.RESTART_CONDITION_ON_FAILURE && s === TaskState.TASK_STATE_COMPLETE && (t.status?.containerStatus?.exitCode ?? 0) === 0) {
    return false;
  }
  const max = policy?.maxAttempts ?? 0;
  if (max === 0) return true;
  const window = policy?.windowMs ?? 0;
  const inWindow = (x: Task) => window === 0 || (x.meta?.createdAt ?? 0) >= now - window;
  // The agent restarts in place first; those restarts count as attempts too.
  const inPlace = slotTasks.filter(inWindow).reduce((n, x) => n + (x.status?.containerStatus?.restarts ?? 0), 0) + (slotTasks.some((x) => x.id === t.id) ? 0 : (t.status?.containerStatus?.restarts ?? 0));
  const attempts = slotTasks.filter((x) => x.id !== t.id && !isLive(x) && inWindow(x)).length + inPlace;
  return attempts < max;
}

/** A node that can no longer run the task it holds: its tasks are replaced elsewhere. */
export function nodeLost(node: Node | undefined): boolean {
  return !node || node.status?.state === NodeState.NODE_STATE_DOWN || node.spec?.availability === NodeAvailability.NODE_AVAILABILITY_DRAIN;
}

/**
 * A task held at READY may run once its restart delay is over and no predecessor in its slot
 * still runs on a node that is up (stop-first).
 */
export function mayRun(tx: ReadTx, t: Task, slotTasks: readonly Task[], now: number): boolean {
  if (t.desiredState !== TaskState.TASK_STATE_READY || (t.status?.restartNotBefore ?? 0) > now) return false;
  return !slotTasks.some(
    (o) => o.id !== t.id && !isLive(o) && observed(o) >= TaskState.TASK_STATE_ASSIGNED && observed(o) <= TaskState.TASK_STATE_RUNNING && !nodeLost(tx.get("node", o.nodeId)),
  );
}
