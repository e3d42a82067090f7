// Small builders for nodes, services and tasks in scheduler and orchestrator tests.
import {
  NodeAvailability,
  NodeMembership,
  NodeRole,
  NodeState,
  PublishMode,
  type Node,
  type Service,
  type Task,
  TaskState,
} from "../../../proto/gen/cluster.js";

export const GiB = 1024 ** 3;

export function node(id: string, opts: { labels?: Record<string, string>; cpus?: number; memory?: number; role?: NodeRole; state?: NodeState; availability?: NodeAvailability } = {}): Node {
  return {
    id,
    spec: { annotations: { name: id, labels: opts.labels ?? {} }, role: opts.role ?? NodeRole.NODE_ROLE_WORKER, availability: opts.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE },
    description: { hostname: id, platform: { os: "linux", architecture: "x86_64" }, resources: { nanoCpus: opts.cpus ?? 4e9, memoryBytes: opts.memory ?? 8 * GiB }, engine: { engineVersion: "shoal", labels: {} } },
    status: { state: opts.state ?? NodeState.NODE_STATE_READY, message: "", addr: "" },
    membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED,
  };
}

export interface ServiceOpts {
  replicas?: number;
  global?: boolean;
  memory?: number;
  cpus?: number;
  constraints?: string[];
  spread?: string[];
  hostPort?: number;
  maxReplicas?: number;
  restart?: { condition?: number; delayMs?: number; maxAttempts?: number; windowMs?: number };
}

export function service(id: string, o: ServiceOpts = {}): Service {
  return {
    id,
    specVersion: 1,
    spec: {
      annotations: { name: id, labels: {} },
      mode: o.global ? { $case: "global", value: {} } : { $case: "replicated", value: { replicas: o.replicas ?? 1 } },
      task: {
        container: { image: "busybox", command: [], args: [], env: [], dir: "", user: "", hostname: "", mounts: [], stopGracePeriodMs: 0, labels: {} },
        resources: { reservations: { nanoCpus: o.cpus ?? 0, memoryBytes: o.memory ?? 0 } },
        placement: { constraints: o.constraints ?? [], preferences: (o.spread ?? []).map((d) => ({ spread: { spreadDescriptor: d } })), maxReplicas: o.maxReplicas ?? 0 },
        restart: o.restart ? { condition: o.restart.condition ?? 0, delayMs: o.restart.delayMs ?? 0, maxAttempts: o.restart.maxAttempts ?? 0, windowMs: o.restart.windowMs ?? 0 } : undefined,
        networks: [],
        forceUpdate: 0,
      },
      endpoint: o.hostPort ? { mode: 0, ports: [{ name: "", protocol: 0, targetPort: 80, publishedPort: o.hostPort, publishMode: PublishMode.PUBLISH_MODE_HOST }] } : undefined,
    },
  };
}

let seq = 0;
export function pendingTask(s: Service, slot: number, nodeId = ""): Task {
  return {
    id: `t${++seq}`,
    serviceId: s.id,
    slot,
    nodeId,
    spec: s.spec!.task,
    specVersion: s.specVersion,
    desiredState: TaskState.TASK_STATE_RUNNING,
    status: { state: TaskState.TASK_STATE_PENDING, timestamp: 0, message: "", err: "", pendingReason: "", restartNotBefore: 0 },
    networks: [],
    assignedGenericResources: [],
    endpoint: s.spec!.endpoint ? { spec: s.spec!.endpoint, ports: [], virtualIps: [] } : undefined,
  };
}
