// A new task waits in NEW only for what the allocator gives it; one that needs nothing from it is
// created ready to schedule.
import { describe, expect, it } from "vitest";
import { TaskState } from "../../../proto/gen/cluster.js";
import { newTask } from "../../../manager/orchestrator/changes.js";
import { service } from "../scheduler/fixtures.js";

describe("newTask", () => {
  it("creates the task of a service with no endpoint and no network PENDING", () => {
    const t = newTask(service("web"), 1, "", 1000);
    expect(t.status?.state).toBe(TaskState.TASK_STATE_PENDING);
    expect(t.status?.message).toBe("pending task scheduling");
  });

  it("leaves the task NEW for the allocator when its service publishes ports or joins a network", () => {
    expect(newTask(service("web", { hostPort: 8080 }), 1, "", 1000).status?.state).toBe(TaskState.TASK_STATE_NEW);
    const s = service("api");
    s.spec!.task!.networks = [{ target: "net1", aliases: [] }];
    expect(newTask(s, 1, "", 1000).status?.state).toBe(TaskState.TASK_STATE_NEW);
  });
});
