// A whole task as a store test writes it: every field set, as a decoded one would have it.
import { TaskState, type Task } from "../../../proto/gen/cluster.js";

/** Slot `slot` of service "svc", pending; `id` empty lets the store pick one. */
export const newTask = (slot: number, id = ""): Task => ({
  id,
  serviceId: "svc",
  slot,
  nodeId: "",
  spec: { container: { image: "busybox:1", command: ["sleep", "3600"], args: [], env: ["A=1"], dir: "", user: "", hostname: "", mounts: [], stopGracePeriodMs: 0, labels: { a: "b" } }, networks: [], forceUpdate: 0 },
  specVersion: 1,
  desiredState: TaskState.TASK_STATE_RUNNING,
  status: { state: TaskState.TASK_STATE_PENDING, timestamp: 1, message: "", err: "", pendingReason: "", restartNotBefore: 0 },
  networks: [],
  assignedGenericResources: [],
  annotations: { name: `svc.${slot}`, labels: {} },
});
