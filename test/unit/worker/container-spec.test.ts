// How a task becomes a container: names, config, restart policy, and what an ended container means.
import { describe, expect, it } from "vitest";
import { Mount_Type, PublishMode, RestartCondition, TaskState, type Task } from "../../../proto/gen/cluster.js";
import { containerConfigOf, containerName, endedState, restartPolicyOf, taskIdOf } from "../../../agent/worker/container-spec.js";
import { freshState, type ContainerRecord } from "../../../agent/engine/containers/record.js";

const task = (over: Partial<Task> = {}): Task => ({
  id: "0123456789abcdefghijklmno",
  serviceId: "svc",
  slot: 3,
  nodeId: "n1",
  spec: {
    container: { image: "busybox:1", command: [], args: ["httpd", "-f"], env: ["A=1"], dir: "/w", user: "nobody", hostname: "", mounts: [], stopGracePeriodMs: 2500, labels: {} },
    networks: [],
    forceUpdate: 0,
  },
  specVersion: 1,
  desiredState: TaskState.TASK_STATE_RUNNING,
  networks: [],
  assignedGenericResources: [],
  annotations: { name: "web.3", labels: {} },
  ...over,
});

describe("task containers", () => {
  it("are named service.slot.taskid and the task id is read back from the name", () => {
    expect(containerName(task())).toBe("web.3.0123456789abcdefghijklmno");
    expect(taskIdOf(containerName(task()))).toBe("0123456789abcdefghijklmno");
    expect(taskIdOf("my_container")).toBeUndefined();
  });

  it("keep the image's entrypoint unless the service gives a command; args replace the image's cmd", () => {
    const c = containerConfigOf(task());
    expect(c.entrypointSet).toBe(false);
    expect(c.cmd).toEqual(["httpd", "-f"]);
    expect(c.stopTimeout).toBe(3);
    const withCommand = containerConfigOf(task({ spec: { ...task().spec!, container: { ...task().spec!.container!, command: ["/bin/sh", "-c"], args: ["echo hi"] } } }));
    expect(withCommand).toMatchObject({ entrypoint: ["/bin/sh", "-c"], entrypointSet: true, cmd: ["echo hi"] });
  });

  it("bind host-mode published ports only; ingress ports belong to the routing mesh", () => {
    const ports = [
      { name: "", protocol: 0, targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_HOST },
      { name: "", protocol: 1, targetPort: 53, publishedPort: 5353, publishMode: PublishMode.PUBLISH_MODE_HOST },
      { name: "", protocol: 0, targetPort: 81, publishedPort: 9000, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
    ];
    const c = containerConfigOf(task({ endpoint: { spec: { mode: 0, ports }, ports, virtualIps: [] } }));
    expect(c.ports).toEqual([
      { hostIp: "", hostPort: 8080, containerPort: 80, protocol: "tcp" },
      { hostIp: "", hostPort: 5353, containerPort: 53, protocol: "udp" },
    ]);
  });

  it("refuses a tmpfs mount this engine cannot make", () => {
    const spec = task().spec!;
    expect(() => containerConfigOf(task({ spec: { ...spec, container: { ...spec.container!, mounts: [{ type: Mount_Type.TMPFS, source: "", target: "/t", readOnly: false }] } } }))).toThrow(/tmpfs/);
  });

  it("map the restart condition to an in-place policy", () => {
    const withRestart = (condition: RestartCondition, maxAttempts: number) => task({ spec: { ...task().spec!, restart: { condition, delayMs: 0, maxAttempts, windowMs: 0 } } });
    expect(restartPolicyOf(task())).toEqual({ name: "always", maximumRetryCount: 0 });
    expect(restartPolicyOf(withRestart(RestartCondition.RESTART_CONDITION_ON_FAILURE, 3))).toEqual({ name: "on-failure", maximumRetryCount: 3 });
    expect(restartPolicyOf(withRestart(RestartCondition.RESTART_CONDITION_NONE, 0))).toEqual({ name: "no", maximumRetryCount: 0 });
    expect(restartPolicyOf(withRestart(RestartCondition.RESTART_CONDITION_ANY, 2))).toEqual({ name: "always", maximumRetryCount: 2 });
  });

  it("read an ended container as complete, failed, OOM-killed or shut down", () => {
    const rec = (exitCode: number, oomKilled = false) => ({ state: { ...freshState(), status: "exited", exitCode, oomKilled } }) as ContainerRecord;
    expect(endedState(rec(0), false).state).toBe(TaskState.TASK_STATE_COMPLETE);
    expect(endedState(rec(3), false)).toMatchObject({ state: TaskState.TASK_STATE_FAILED, err: "task: non-zero exit (3)" });
    expect(endedState(rec(137, true), false).err).toMatch(/OOM/);
    expect(endedState(rec(143), true).state).toBe(TaskState.TASK_STATE_SHUTDOWN);
  });
});
