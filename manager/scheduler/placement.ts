// The scheduling decision, pure: given node infos and pending tasks, which task goes where, and
// why the rest stay pending. Tasks are grouped by service and spec version so each group filters
// the nodes once and then takes nodes from a heap ordered for spread.
import type { Task } from "../../proto/gen/cluster.js";
import { spreadValue } from "./constraint.js";
import { type Demand, STATIC_FILTERS, demandOf, explain, fits } from "./filters.js";
import { Heap } from "./heap.js";
import { type NodeInfo, addTask } from "./nodeinfo.js";

export interface Assignment {
  taskId: string;
  nodeId: string;
}
export interface Unplaced {
  taskId: string;
  reason: string;
}
export interface Decisions {
  assigned: Assignment[];
  unplaced: Unplaced[];
}

/** Places tasks one at a time; `count` is how many of the service's tasks its nodes hold. */
interface Placer {
  count: number;
  place(t: Task): NodeInfo | null;
}

// Fewest tasks of this service, then fewest tasks overall, then node id (so a seed replays).
function spreadOrder(serviceId: string) {
  return (a: NodeInfo, b: NodeInfo): boolean => {
    const sa = a.tasksByService.get(serviceId) ?? 0;
    const sb = b.tasksByService.get(serviceId) ?? 0;
    if (sa !== sb) return sa < sb;
    if (a.taskCount !== b.taskCount) return a.taskCount < b.taskCount;
    return a.node.id < b.node.id;
  };
}

class NodePlacer implements Placer {
  private readonly heap: Heap<NodeInfo>;
  count = 0;

  constructor(nodes: NodeInfo[], private readonly d: Demand) {
    this.heap = new Heap(spreadOrder(d.serviceId));
    for (const n of nodes) {
      this.heap.push(n);
      this.count += n.tasksByService.get(d.serviceId) ?? 0;
    }
  }

  place(t: Task): NodeInfo | null {
    for (;;) {
      const n = this.heap.pop();
      if (!n) return null;
      // A node that does not fit now never will in this group: placing only takes resources.
      if (!fits(n, this.d)) continue;
      addTask(n, t, this.d.hostPorts);
      this.count++;
      this.heap.push(n);
      return n;
    }
  }
}

/** Spreads over one preference's values: the branch holding the fewest of the service's tasks goes first. */
class SpreadPlacer implements Placer {
  private readonly branches: Placer[];
  count = 0;

  constructor(nodes: NodeInfo[], d: Demand, descriptors: string[]) {
    const [first, ...rest] = descriptors;
    const groups = new Map<string, NodeInfo[]>();
    for (const n of nodes) {
      const v = spreadValue(n.node, first);
      let g = groups.get(v);
      if (!g) groups.set(v, (g = []));
      g.push(n);
    }
    this.branches = [...groups.keys()].sort().map((v) => makePlacer(groups.get(v)!, d, rest));
    for (const b of this.branches) this.count += b.count;
  }

  place(t: Task): NodeInfo | null {
    while (this.branches.length > 0) {
      let best = 0;
      for (let i = 1; i < this.branches.length; i++) if (this.branches[i].count < this.branches[best].count) best = i;
      const n = this.branches[best].place(t);
      if (n) {
        this.count++;
        return n;
      }
      this.branches.splice(best, 1);
    }
    return null;
  }
}

function makePlacer(nodes: NodeInfo[], d: Demand, descriptors: string[]): Placer {
  return descriptors.length === 0 ? new NodePlacer(nodes, d) : new SpreadPlacer(nodes, d, descriptors);
}

/**
 * Decides where pending tasks go, placing at most `limit` of them (the rest are in neither list:
 * left for a later pass). `infos` is updated as tasks are placed. A task that already names a
 * node (global services) only has that node checked.
 */
export function schedule(infos: Map<string, NodeInfo>, pending: readonly Task[], limit = Infinity): Decisions {
  const out: Decisions = { assigned: [], unplaced: [] };
  // By service, then spec version: no key string made per task (a pass sees every pending task).
  const groups = new Map<string, Map<number, Task[]>>();
  for (const t of pending) {
    if (t.nodeId) {
      placeOnNamedNode(infos, t, out);
      continue;
    }
    let byVersion = groups.get(t.serviceId);
    if (!byVersion) groups.set(t.serviceId, (byVersion = new Map()));
    let g = byVersion.get(t.specVersion);
    if (!g) byVersion.set(t.specVersion, (g = []));
    g.push(t);
  }
  const ordered: Task[][] = [];
  for (const id of [...groups.keys()].sort()) {
    const byVersion = groups.get(id)!;
    for (const v of [...byVersion.keys()].sort((a, b) => a - b)) ordered.push(byVersion.get(v)!);
  }
  for (const group of ordered) {
    if (out.assigned.length >= limit) break;
    const tasks = group.sort((a, b) => a.slot - b.slot || (a.id < b.id ? -1 : 1));
    const d = demandOf(tasks[0]);
    const candidates = [...infos.values()].filter((n) => STATIC_FILTERS.every((f) => f.ok(n, d)));
    const descriptors = (tasks[0].spec?.placement?.preferences ?? []).map((p) => p.spread?.spreadDescriptor ?? "").filter((s) => s);
    const placer = makePlacer(candidates, d, descriptors);
    let reason = "";
    for (const t of tasks) {
      if (!reason && out.assigned.length >= limit) break;
      const n = reason ? null : placer.place(t);
      if (n) {
        out.assigned.push({ taskId: t.id, nodeId: n.node.id });
        continue;
      }
      // Once one task of the group fits nowhere, none of the rest will.
      reason ||= explain(infos.values(), d);
      out.unplaced.push({ taskId: t.id, reason });
    }
  }
  return out;
}

function placeOnNamedNode(infos: Map<string, NodeInfo>, t: Task, out: Decisions): void {
  const n = infos.get(t.nodeId);
  const d = demandOf(t);
  if (n && fits(n, d)) {
    addTask(n, t, d.hostPorts);
    out.assigned.push({ taskId: t.id, nodeId: n.node.id });
  } else {
    out.unplaced.push({ taskId: t.id, reason: n ? explain([n], d) : `no suitable node (node ${t.nodeId} is gone)` });
  }
}
