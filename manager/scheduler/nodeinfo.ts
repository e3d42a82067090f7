// What the scheduler knows about a node: the node, the tasks it holds, what is left of its
// resources and which host ports are taken.
import { type Node, type PortConfig, PublishMode, type Task, TaskState } from "../../proto/gen/cluster.js";

export interface NodeInfo {
  node: Node;
  /** Tasks that hold resources on the node. */
  taskCount: number;
  tasksByService: Map<string, number>;
  availableCpus: number;
  availableMemory: number;
  hostPorts: Set<string>;
}

/**
 * A task holds its node's resources until it has ended, even once told to stop (a stop-first
 * update's old task still runs while it stops); a task told to stop before reaching its node
 * holds nothing.
 */
export function holdsResources(t: Task): boolean {
  const s = t.status?.state ?? TaskState.TASK_STATE_NEW;
  if (t.nodeId === "" || s > TaskState.TASK_STATE_RUNNING) return false;
  return s >= TaskState.TASK_STATE_ASSIGNED || t.desiredState <= TaskState.TASK_STATE_RUNNING;
}

export function hostPortKeys(ports: readonly PortConfig[] | undefined): string[] {
  const out: string[] = [];
  for (const p of ports ?? []) {
    if (p.publishMode === PublishMode.PUBLISH_MODE_HOST && p.publishedPort !== 0) out.push(`${p.protocol}/${p.publishedPort}`);
  }
  return out;
}

export function newNodeInfo(node: Node): NodeInfo {
  return {
    node,
    taskCount: 0,
    tasksByService: new Map(),
    availableCpus: node.description?.resources?.nanoCpus ?? 0,
    availableMemory: node.description?.resources?.memoryBytes ?? 0,
    hostPorts: new Set(),
  };
}

/** Accounts a task as placed on the node; `ports` are the host-mode ports of its service. */
export function addTask(info: NodeInfo, t: Task, ports: readonly string[]): void {
  info.taskCount++;
  info.tasksByService.set(t.serviceId, (info.tasksByService.get(t.serviceId) ?? 0) + 1);
  const r = t.spec?.resources?.reservations;
  info.availableCpus -= r?.nanoCpus ?? 0;
  info.availableMemory -= r?.memoryBytes ?? 0;
  for (const p of ports) info.hostPorts.add(p);
}

/** Gives back what a task held on the node: the inverse of addTask. */
export function removeTask(info: NodeInfo, t: Task, ports: readonly string[]): void {
  info.taskCount--;
  const n = (info.tasksByService.get(t.serviceId) ?? 0) - 1;
  if (n > 0) info.tasksByService.set(t.serviceId, n);
  else info.tasksByService.delete(t.serviceId);
  const r = t.spec?.resources?.reservations;
  info.availableCpus += r?.nanoCpus ?? 0;
  info.availableMemory += r?.memoryBytes ?? 0;
  for (const p of ports) info.hostPorts.delete(p);
}

export function buildNodeInfos(nodes: readonly Node[], tasks: readonly Task[], portsOf: (t: Task) => readonly string[]): Map<string, NodeInfo> {
  const infos = new Map<string, NodeInfo>();
  for (const n of nodes) infos.set(n.id, newNodeInfo(n));
  for (const t of tasks) {
    const info = infos.get(t.nodeId);
    if (info && holdsResources(t)) addTask(info, t, portsOf(t));
  }
  return infos;
}
