// The global orchestrator's decision: one live task on every node that can run the service.
import { NodeAvailability, NodeState, type Node, type Service, type Task, TaskState } from "../../proto/gen/cluster.js";
import { parseConstraints, satisfies, type Constraint } from "../scheduler/constraint.js";
import { byServiceId, type ReadTx } from "../store/types.js";
import { type TaskChange, isLive, newTask, withDesired } from "./changes.js";
import { mayRun, restartDelay, shouldRestart } from "./restart.js";

function constraintsOf(service: Service): Constraint[] | null {
  try {
    return parseConstraints(service.spec?.task?.placement?.constraints ?? []);
  } catch {
    return null; // refused at create; a stored bad constraint matches no node
  }
}

/** May hold its task: not drained, and the constraints still hold (a paused or down node keeps it). */
function mayKeep(node: Node, cs: Constraint[] | null): boolean {
  return cs !== null && node.spec?.availability !== NodeAvailability.NODE_AVAILABILITY_DRAIN && satisfies(node, cs);
}

/** May be given a new task: ready and active too. */
function mayStart(node: Node, cs: Constraint[] | null): boolean {
  return mayKeep(node, cs) && node.status?.state === NodeState.NODE_STATE_READY && (node.spec?.availability ?? 0) === NodeAvailability.NODE_AVAILABILITY_ACTIVE;
}

export function reconcileGlobal(tx: ReadTx, service: Service, now: number): TaskChange[] {
  const out: TaskChange[] = [];
  const cs = constraintsOf(service);
  const byNode = new Map<string, Task[]>();
  for (const t of tx.find("task", byServiceId(service.id))) {
    let l = byNode.get(t.nodeId);
    if (!l) byNode.set(t.nodeId, (l = []));
    l.push(t);
  }
  const nodes = tx.find("node");
  const known = new Set(nodes.map((n) => n.id));
  for (const [nodeId, history] of byNode) {
    if (!known.has(nodeId)) for (const t of history.filter(isLive)) out.push(withDesired(t, TaskState.TASK_STATE_SHUTDOWN));
  }
  for (const node of nodes) {
    const history = byNode.get(node.id) ?? [];
    let live = history.filter(isLive);
    if (!mayKeep(node, cs)) {
      for (const t of live) out.push(withDesired(t, TaskState.TASK_STATE_SHUTDOWN));
      continue;
    }
    // Newest first; extra live tasks (e.g. from a race) are shut down.
    live.sort((a, b) => (b.meta?.createdAt ?? 0) - (a.meta?.createdAt ?? 0) || (b.meta?.version ?? 0) - (a.meta?.version ?? 0));
    for (const t of live.slice(1)) out.push(withDesired(t, TaskState.TASK_STATE_SHUTDOWN));
    live = live.slice(0, 1);
    const t = live[0];
    if (t && shouldRestart(service, t, history, now)) {
      out.push(withDesired(t, TaskState.TASK_STATE_SHUTDOWN));
      out.push({ op: "create", task: newTask(service, 0, node.id, now, restartDelay(service)) });
    } else if (t && mayRun(tx, t, history, now)) {
      out.push(withDesired(t, TaskState.TASK_STATE_RUNNING));
    } else if (!t && mayStart(node, cs)) {
      out.push({ op: "create", task: newTask(service, 0, node.id, now) });
    }
  }
  return out;
}
