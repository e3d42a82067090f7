// The rolling updater's decision: replace tasks made from an older spec version, a few slots at
// a time (parallelism), waiting for each batch to run and be monitored, pausing between batches
// (delay), and pausing or rolling back when too many new tasks fail.
import { NodeState, type Service, type Task, TaskState, UpdateFailureAction, UpdateOrder, UpdateState, type UpdateConfig } from "../../proto/gen/cluster.js";
import { slotKey } from "../store/kinds.js";
import { byServiceId, type ReadTx } from "../store/types.js";
import { type TaskChange, isLive, newTask, observed, withDesired } from "./changes.js";

const ROLLING_BACK = new Set([UpdateState.UPDATE_STATE_ROLLBACK_STARTED]);
const HALTED = new Set([UpdateState.UPDATE_STATE_PAUSED, UpdateState.UPDATE_STATE_ROLLBACK_PAUSED]);

function configOf(s: Service, rollingBack: boolean): UpdateConfig {
  const c = rollingBack ? (s.spec?.rollback ?? s.spec?.update) : s.spec?.update;
  return c ?? { parallelism: 1, delayMs: 0, failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE, monitorMs: 0, maxFailureRatio: 0, order: UpdateOrder.UPDATE_ORDER_STOP_FIRST };
}

function withStatus(s: Service, state: UpdateState, now: number, message: string): TaskChange {
  const started = state === UpdateState.UPDATE_STATE_UPDATING || state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED;
  const done = state === UpdateState.UPDATE_STATE_COMPLETED || state === UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED;
  return {
    op: "service",
    service: {
      ...s,
      updateStatus: { state, startedAt: started ? now : (s.updateStatus?.startedAt ?? now), completedAt: done ? now : 0, message },
    },
  };
}

/**
 * Decides one step of a rolling update. `touched` holds ids of tasks other decisions of this pass
 * already change: their slots wait for the next pass.
 */
export function reconcileUpdate(tx: ReadTx, service: Service, now: number, touched: ReadonlySet<string>): TaskChange[] {
  const state = service.updateStatus?.state ?? UpdateState.UPDATE_STATE_UNKNOWN;
  if (HALTED.has(state)) return [];
  const rollingBack = ROLLING_BACK.has(state);
  const cfg = configOf(service, rollingBack);
  const slots = new Map<string, Task[]>();
  for (const t of tx.find("task", byServiceId(service.id))) {
    if (!isLive(t)) continue;
    const k = slotKey(t.serviceId, t.slot, t.nodeId);
    let l = slots.get(k);
    if (!l) slots.set(k, (l = []));
    l.push(t);
  }
  const fresh = (t: Task) => t.specVersion === service.specVersion;
  const out: TaskChange[] = [];
  let dirty: Task[][] = [];
  /** Slots taken by the update: a new task not yet up, or up for less than `delay`. */
  let inFlight = 0;
  /** Updated tasks still inside their monitor window: the update is not complete until they pass it. */
  let monitoring = false;
  for (const ts of slots.values()) {
    if (ts.some((t) => touched.has(t.id))) {
      inFlight++; // being changed this pass: counts against parallelism, decided next pass
      continue;
    }
    const stale = ts.filter((t) => !fresh(t));
    const current = ts.filter(fresh);
    if (stale.length === 0) {
      // A new task is in flight until it runs (healthy, if it has a health check: the agent
      // reports RUNNING only then). Its failures count for the monitor period after that.
      for (const t of current) {
        const up = observed(t) === TaskState.TASK_STATE_RUNNING;
        // A task stuck on a node that is not up cannot progress: it does not hold the update back.
        const stuck = t.nodeId !== "" && tx.get("node", t.nodeId)?.status?.state !== NodeState.NODE_STATE_READY;
        if (!up && !stuck && observed(t) < TaskState.TASK_STATE_RUNNING) inFlight++;
        if (up && (t.meta?.createdAt ?? 0) >= (service.updateStatus?.startedAt ?? 0)) {
          const upAt = t.status?.timestamp ?? 0;
          // As Swarm's update workers do: a slot's worker waits `delay` after its task came up.
          if (upAt + cfg.delayMs > now) inFlight++;
          if (upAt + cfg.monitorMs > now) monitoring = true;
        }
      }
      continue;
    }
    if (current.length > 0) {
      // start-first: the old task stops once its successor runs.
      inFlight++;
      if (current.some((t) => observed(t) === TaskState.TASK_STATE_RUNNING)) for (const t of stale) out.push(withDesired(t, TaskState.TASK_STATE_SHUTDOWN));
      continue;
    }
    dirty.push(ts);
  }
  const startedAt = service.updateStatus?.startedAt ?? 0;
  const active = state === UpdateState.UPDATE_STATE_UPDATING || rollingBack;
  if (dirty.length === 0 && inFlight === 0 && !(active && monitoring)) {
    if (active) out.push(withStatus(service, rollingBack ? UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED : UpdateState.UPDATE_STATE_COMPLETED, now, rollingBack ? "rollback completed" : "update completed"));
    return out;
  }
  if (!active) return dirty.length > 0 ? [...out, withStatus(service, UpdateState.UPDATE_STATE_UPDATING, now, "update in progress")] : out;

  // Failures among the tasks this update made.
  const made = tx.find("task", byServiceId(service.id)).filter((t) => fresh(t) && (t.meta?.createdAt ?? 0) >= startedAt);
  const failed = made.filter((t) => observed(t) === TaskState.TASK_STATE_FAILED || observed(t) === TaskState.TASK_STATE_REJECTED).length;
  if (failed > 0 && failed > cfg.maxFailureRatio * slots.size && cfg.failureAction !== UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE) {
    if (cfg.failureAction === UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK && !rollingBack && service.previousSpec) {
      const back: Service = { ...service, spec: service.previousSpec, previousSpec: service.spec, specVersion: service.specVersion + 1 };
      return [...out, withStatus(back, UpdateState.UPDATE_STATE_ROLLBACK_STARTED, now, `rollback started: ${failed} new task(s) failed`)];
    }
    const paused = rollingBack ? UpdateState.UPDATE_STATE_ROLLBACK_PAUSED : UpdateState.UPDATE_STATE_PAUSED;
    return [...out, withStatus(service, paused, now, `update paused: ${failed} new task(s) failed; fix the service and update it again`)];
  }

  if (dirty.length === 0) return out; // the last batch is in its monitor window
  const room = cfg.parallelism === 0 ? dirty.length : Math.max(0, Number(cfg.parallelism) - inFlight);
  dirty = dirty.sort((a, b) => a[0].slot - b[0].slot || (a[0].nodeId < b[0].nodeId ? -1 : 1)).slice(0, room);
  for (const ts of dirty) {
    const old = ts[0];
    const startFirst = cfg.order === UpdateOrder.UPDATE_ORDER_START_FIRST;
    if (!startFirst) for (const t of ts) out.push(withDesired(t, TaskState.TASK_STATE_SHUTDOWN));
    out.push({ op: "create", task: newTask(service, old.slot, old.slot > 0 ? "" : old.nodeId, now, 0, !startFirst) });
  }
  return out;
}
