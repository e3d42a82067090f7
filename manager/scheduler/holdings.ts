// What every node holds, kept up to date from the store's events instead of counted again from
// every task on each pass: with 100,000 tasks, a pass would spend most of its time recounting.
import type { Node, Task } from "../../proto/gen/cluster.js";
import type { ReadTx, StoreEvent } from "../store/types.js";
import { portsOfTask } from "./filters.js";
import { type NodeInfo, addTask, buildNodeInfos, holdsResources, newNodeInfo, removeTask } from "./nodeinfo.js";
import type { Decisions } from "./placement.js";

export class Holdings {
  private infos?: Map<string, NodeInfo>;

  /** The node infos as of the store's state now, counted from `tx` when not kept yet. */
  current(tx: ReadTx): Map<string, NodeInfo> {
    this.infos ??= buildNodeInfos(tx.find("node"), tx.find("task"), portsOfTask);
    return this.infos;
  }

  /** Forgets everything: the next `current` counts again. */
  reset(): void {
    this.infos = undefined;
  }

  /** Follows one applied change set's task and node events. */
  apply(events: readonly StoreEvent[]): void {
    const infos = this.infos;
    if (!infos) return;
    for (const e of events) {
      if (e.kind === "task") {
        const o = e.old as Task | undefined;
        const n = e.new as Task | undefined;
        const from = o && holdsResources(o) ? infos.get(o.nodeId) : undefined;
        const to = n && holdsResources(n) ? infos.get(n.nodeId) : undefined;
        // A task staying on its node with what it holds unchanged (an agent's running report,
        // most events by far): taking it off and on again would change nothing.
        if (from && from === to && o!.serviceId === n!.serviceId && o!.spec === n!.spec && o!.endpoint === n!.endpoint) continue;
        if (from) {
          // A node's host ports are a set: whether another task still holds one takes a recount.
          const ports = portsOfTask(o!);
          if (ports.length > 0) return this.reset();
          removeTask(from, o!, ports);
        }
        if (to) addTask(to, n!, portsOfTask(n!));
      } else if (e.kind === "node") {
        const o = e.old as Node | undefined;
        const n = e.new as Node | undefined;
        if (!n) infos.delete(o!.id);
        else if (!o || !infos.has(n.id)) infos.set(n.id, newNodeInfo(n));
        // What is left is counted from the node's resources: if they change, count again.
        else if (sameResources(o, n)) infos.get(n.id)!.node = n;
        else return this.reset();
      }
    }
  }

  /**
   * Takes a pass's placements back off the infos (placing counted them): they are counted again
   * from the events once written, and not at all if a write is refused.
   */
  undo(d: Decisions, tasks: ReadonlyMap<string, Task>): void {
    for (const a of d.assigned) {
      const t = tasks.get(a.taskId);
      const info = this.infos?.get(a.nodeId);
      if (t && info) removeTask(info, t, portsOfTask(t));
    }
  }
}

function sameResources(a: Node, b: Node): boolean {
  const x = a.description?.resources;
  const y = b.description?.resources;
  return (x?.nanoCpus ?? 0) === (y?.nanoCpus ?? 0) && (x?.memoryBytes ?? 0) === (y?.memoryBytes ?? 0);
}
