// How a task becomes an engine container: its name, its config, and what a container's state
// means for the task. Pure, so the mapping is tested without an engine.
import { Mount_Type, PublishMode, RestartCondition, type Task, TaskState } from "../../proto/gen/cluster.js";
import type { ContainerConfig, PortBinding, RestartPolicy } from "../../proto/gen/engine.js";
import type { ContainerRecord } from "../engine/containers/record.js";

/** `web.3.<task id>` (replicated) or `agent.<node id>.<task id>` (global), as Swarm names them. */
export function containerName(t: Task): string {
  return `${t.annotations?.name || t.serviceId}.${t.id}`;
}

/** The task id of a container this worker named, if it is one. */
export function taskIdOf(containerName: string): string | undefined {
  return /\.([0-9a-z]{25})$/.exec(containerName)?.[1];
}

export class TaskSpecError extends Error {}

/**
 * The in-place restart policy: the agent restarts a crashed container itself (at once, then with
 * backoff), also while no manager is reachable. `any` restarts on every exit, `on-failure` on a
 * non-zero one, each at most max_attempts times when that is set.
 */
export function restartPolicyOf(t: Task): RestartPolicy {
  const r = t.spec?.restart;
  const max = r?.maxAttempts ?? 0;
  switch (r?.condition ?? RestartCondition.RESTART_CONDITION_ANY) {
    case RestartCondition.RESTART_CONDITION_NONE:
      return { name: "no", maximumRetryCount: 0 };
    case RestartCondition.RESTART_CONDITION_ON_FAILURE:
      return { name: "on-failure", maximumRetryCount: max };
    default:
      return { name: "always", maximumRetryCount: max };
  }
}

/** Host-mode published ports bind on this node; ingress ports belong to the routing mesh. */
function hostPorts(t: Task): PortBinding[] {
  const ports = t.endpoint?.ports?.length ? t.endpoint.ports : (t.endpoint?.spec?.ports ?? []);
  return ports
    .filter((p) => p.publishMode === PublishMode.PUBLISH_MODE_HOST && p.publishedPort > 0)
    .map((p) => ({ hostIp: "", hostPort: p.publishedPort, containerPort: p.targetPort, protocol: p.protocol === 1 ? "udp" : "tcp" }));
}

export function containerConfigOf(t: Task): ContainerConfig {
  const c = t.spec?.container;
  if (!c?.image) throw new TaskSpecError("the task has no image");
  const mounts = (c.mounts ?? []).map((m) => {
    if (m.type === Mount_Type.TMPFS) throw new TaskSpecError(`tmpfs mount at ${m.target} is not supported by this node's engine`);
    return { type: m.type === Mount_Type.VOLUME ? "volume" : "bind", source: m.source, destination: m.target, readOnly: m.readOnly };
  });
  const limits = t.spec?.resources?.limits;
  const grace = c.stopGracePeriodMs > 0 ? Math.ceil(c.stopGracePeriodMs / 1000) : -1;
  return {
    image: c.image,
    // Swarm's command replaces the image's entrypoint; args replace its cmd.
    entrypoint: c.command,
    entrypointSet: c.command.length > 0,
    cmd: c.args,
    env: c.env,
    workingDir: c.dir,
    user: c.user,
    hostname: c.hostname,
    mounts,
    ports: hostPorts(t),
    networkMode: "bridge",
    memoryBytes: limits?.memoryBytes ?? 0,
    nanoCpus: limits?.nanoCpus ?? 0,
    pidsLimit: 0,
    restartPolicy: restartPolicyOf(t),
    autoRemove: false,
    stopTimeout: grace,
    stopSignal: "",
    openStdin: false,
  };
}

/** The task state a container in a final state stands for. */
export function endedState(rec: ContainerRecord, stopAsked: boolean): { state: TaskState; message: string; err: string } {
  const code = rec.state.exitCode;
  if (stopAsked) return { state: TaskState.TASK_STATE_SHUTDOWN, message: "shutdown", err: "" };
  if (rec.state.oomKilled) return { state: TaskState.TASK_STATE_FAILED, message: "failed", err: "task: killed for running out of memory (OOM)" };
  if (code === 0) return { state: TaskState.TASK_STATE_COMPLETE, message: "finished", err: "" };
  return { state: TaskState.TASK_STATE_FAILED, message: "failed", err: `task: non-zero exit (${code})` };
}
