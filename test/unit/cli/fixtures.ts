// Cluster objects as the Control API answers them, for the CLI's formatting and progress tests.
import { Node, NodeAvailability, NodeRole, NodeState, Reachability, Service, Task, TaskState, type DeepPartial } from "../../../proto/gen/cluster.js";

export const NOW = Date.UTC(2025, 0, 2, 3, 4, 5);

export function node(id: string, hostname: string, o: { state?: NodeState; availability?: NodeAvailability; manager?: { leader?: boolean; reachability?: Reachability } } = {}): Node {
  return Node.fromPartial({
    id,
    meta: { version: 7, createdAt: NOW - 60_000 },
    spec: { role: o.manager ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER, availability: o.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE },
    description: { hostname, platform: { os: "linux", architecture: "x86_64" }, resources: { nanoCpus: 2e9, memoryBytes: 2 * 1024 ** 3 }, engine: { engineVersion: "0.1.0" } },
    status: { state: o.state ?? NodeState.NODE_STATE_READY, addr: "10.0.0.1" },
    managerStatus: o.manager ? { raftId: 1, addr: "10.0.0.1:2377", leader: !!o.manager.leader, reachability: o.manager.reachability ?? Reachability.REACHABILITY_REACHABLE } : undefined,
  });
}

export function service(o: { replicas?: number; global?: boolean; specVersion?: number; image?: string; extra?: DeepPartial<Service> } = {}): Service {
  return Service.fromPartial({
    id: "svc0123456789abcdefghijkl",
    meta: { version: 10, createdAt: NOW - 120_000, updatedAt: NOW - 60_000 },
    spec: {
      annotations: { name: "web" },
      task: { container: { image: o.image ?? "busybox:1" } },
      mode: o.global ? { $case: "global", value: {} } : { $case: "replicated", value: { replicas: o.replicas ?? 3 } },
      update: { parallelism: 1, monitorMs: 5000 },
    },
    specVersion: o.specVersion ?? 1,
    ...o.extra,
  });
}

let seq = 0;
export function task(slot: number, state: TaskState, o: { node?: string; desired?: TaskState; specVersion?: number; err?: string; at?: number; pendingReason?: string; image?: string; id?: string } = {}): Task {
  seq++;
  return Task.fromPartial({
    id: o.id ?? `task${String(seq).padStart(4, "0")}abcdefghijklmnopq`,
    meta: { createdAt: o.at ?? NOW - 10_000 + seq },
    serviceId: "svc0123456789abcdefghijkl",
    slot,
    nodeId: o.node ?? (state >= TaskState.TASK_STATE_ASSIGNED ? "node1" : ""),
    spec: { container: { image: o.image ?? "busybox:1" } },
    specVersion: o.specVersion ?? 1,
    desiredState: o.desired ?? TaskState.TASK_STATE_RUNNING,
    status: { state, timestamp: o.at ?? NOW - 3000, err: o.err ?? "", pendingReason: o.pendingReason ?? "" },
  });
}
