import { describe, expect, it } from "vitest";
import { TaskState, UpdateState, type Service, type Task, type UpdateStatus } from "../../../proto/gen/cluster.js";
import { Convergence, type Frame } from "../../../cli/cluster/progress.js";
import { NOW, service, task } from "./fixtures.js";

const S = TaskState;
const up = new Set(["node1", "node2", "node3"]);
const text = (f: Frame) => f.lines.map((l) => `${l.id}: ${l.text}`.trimEnd());
const status = (state: UpdateState, message: string, startedAt = NOW): UpdateStatus => ({ state, startedAt, completedAt: 0, message });
const withStatus = (s: Service, us: UpdateStatus) => ({ ...s, updateStatus: us });

describe("convergence of a replicated service", () => {
  it("draws one line per slot, counts running tasks, then waits the monitor period", () => {
    const m = new Convergence();
    const s = service({ replicas: 3 });
    expect(text(m.observe(s, [], up, NOW))).toEqual(["overall progress: 0 out of 3 tasks", "1/3:", "2/3:", "3/3:"]);

    const f = m.observe(s, [task(1, S.TASK_STATE_PENDING), task(2, S.TASK_STATE_PREPARING), task(3, S.TASK_STATE_RUNNING)], up, NOW + 200);
    expect(text(f)).toEqual(["overall progress: 1 out of 3 tasks", "1/3: pending", "2/3: preparing", "3/3: running"]);
    expect(f.lines.slice(1).map((l) => l.step)).toEqual([3, 6, 9]);
    expect(f.lines[1].text).toBe("pending  ");
    expect(f.end).toBeUndefined();

    const all = [task(1, S.TASK_STATE_RUNNING), task(2, S.TASK_STATE_RUNNING), task(3, S.TASK_STATE_RUNNING)];
    expect(text(m.observe(s, all, up, NOW + 400))).toEqual([
      "overall progress: 3 out of 3 tasks",
      "1/3: running",
      "2/3: running",
      "3/3: running",
      "verify: Waiting 6 seconds to verify that tasks are stable...",
    ]);
    expect(text(m.observe(s, all, up, NOW + 1400)).at(-1)).toBe("verify: Waiting 5 seconds to verify that tasks are stable...");
    expect(m.observe(s, all, up, NOW + 5300).end).toBeUndefined();
    const last = m.observe(s, all, up, NOW + 5500);
    expect(last.end).toEqual({ ok: true });
    expect(text(last).at(-1)).toBe("verify: Service converged");
  });

  it("starts over when a task fails during the monitor period", () => {
    const m = new Convergence();
    const s = service({ replicas: 2 });
    const running = [task(1, S.TASK_STATE_RUNNING), task(2, S.TASK_STATE_RUNNING)];
    m.observe(s, running, up, NOW);
    const failed = [task(1, S.TASK_STATE_RUNNING), task(2, S.TASK_STATE_FAILED, { err: "task: non-zero exit (1)" })];
    const f = m.observe(s, failed, up, NOW + 1000);
    expect(text(f)).toContain("verify: Detected task failure");
    expect(text(f)).toContain("overall progress: 1 out of 2 tasks");
    expect(text(f)).toContain("2/2: task: non-zero exit (1)");
    // Converged again: the monitor period counts from now, not from the first time.
    m.observe(s, running, up, NOW + 2000);
    expect(m.observe(s, running, up, NOW + 6000).end).toBeUndefined();
    expect(m.observe(s, running, up, NOW + 7000).end).toEqual({ ok: true });
  });

  it("maps the slots it sees onto 1..N in order (slots are not contiguous after a scale)", () => {
    const m = new Convergence();
    const f = m.observe(service({ replicas: 2 }), [task(9, S.TASK_STATE_STARTING), task(4, S.TASK_STATE_RUNNING)], up, NOW);
    expect(text(f)).toEqual(["overall progress: 1 out of 2 tasks", "1/2: running", "2/2: starting"]);
  });

  it("of two tasks in one slot shows the lower desired state, then the lower observed one", () => {
    const m = new Convergence();
    const s = service({ replicas: 1 });
    const leaving = task(1, S.TASK_STATE_RUNNING, { desired: S.TASK_STATE_SHUTDOWN });
    const coming = task(1, S.TASK_STATE_STARTING);
    expect(text(m.observe(s, [leaving, coming], up, NOW))).toContain("1/1: starting");
    const restarted = task(1, S.TASK_STATE_PENDING);
    expect(text(m.observe(s, [task(1, S.TASK_STATE_RUNNING), restarted], up, NOW))).toContain("1/1: pending");
  });

  it("ignores tasks of older specs, removed tasks, and tasks on nodes that are down", () => {
    const m = new Convergence();
    const s = service({ replicas: 2, specVersion: 2, image: "busybox:2" });
    const tasks: Task[] = [
      task(1, S.TASK_STATE_RUNNING, { specVersion: 1, image: "busybox:1" }),
      task(2, S.TASK_STATE_RUNNING, { specVersion: 2, image: "busybox:2", node: "gone" }),
      task(3, S.TASK_STATE_RUNNING, { specVersion: 2, image: "busybox:2", desired: S.TASK_STATE_REMOVE }),
    ];
    expect(text(m.observe(s, tasks, up, NOW))[0]).toBe("overall progress: 0 out of 2 tasks");
  });

  it("counts tasks whose spec matches as current though their version is older (a scale)", () => {
    const m = new Convergence();
    const s = service({ replicas: 2, specVersion: 5 });
    expect(text(m.observe(s, [task(1, S.TASK_STATE_RUNNING, { specVersion: 4 }), task(2, S.TASK_STATE_RUNNING, { specVersion: 5 })], up, NOW))[0]).toBe("overall progress: 2 out of 2 tasks");
  });

  it("leaves out old tasks of the same spec that are history (an update back to an earlier image)", () => {
    const m = new Convergence();
    const s = service({ replicas: 2, specVersion: 9 });
    const history = [1, 2].map((slot) => task(slot, S.TASK_STATE_SHUTDOWN, { specVersion: 1, desired: S.TASK_STATE_SHUTDOWN }));
    const f = m.observe(s, [...history, task(3, S.TASK_STATE_RUNNING, { specVersion: 9 }), task(7, S.TASK_STATE_STARTING, { specVersion: 9 })], up, NOW);
    expect(text(f)).toEqual(["overall progress: 1 out of 2 tasks", "1/2: running", "2/2: starting"]);
  });

  it("shows only the overall line past 20 replicas", () => {
    const m = new Convergence();
    const tasks = Array.from({ length: 25 }, (_, i) => task(i + 1, i < 10 ? S.TASK_STATE_RUNNING : S.TASK_STATE_ASSIGNED));
    expect(text(m.observe(service({ replicas: 25 }), tasks, up, NOW))).toEqual(["overall progress: 10 out of 25 tasks"]);
  });

  it("cuts a long task error to one line of 75 characters", () => {
    const m = new Convergence();
    const f = m.observe(service({ replicas: 1 }), [task(1, S.TASK_STATE_REJECTED, { err: "x".repeat(50) + "\n" + "y".repeat(50) })], up, NOW);
    const line = f.lines.find((l) => l.id === "1/1")!;
    expect(line.text).toHaveLength(75);
    expect(line.text).toMatch(/^x{50} y{23}…$/);
  });
});

describe("convergence of a global service", () => {
  it("waits for the orchestrator's tasks, then draws a line per node", () => {
    const m = new Convergence();
    const s = service({ global: true });
    expect(text(m.observe(s, [], up, NOW))).toEqual(["overall progress: waiting for new tasks"]);
    const f = m.observe(s, [task(0, S.TASK_STATE_RUNNING, { node: "node1abcdefghijklmnop" }), task(0, S.TASK_STATE_PREPARING, { node: "node2abcdefghijklmnop" })], new Set(["node1abcdefghijklmnop", "node2abcdefghijklmnop"]), NOW);
    expect(text(f)).toEqual(["overall progress: 1 out of 2 tasks", "node1abcdefg: running", "node2abcdefg: preparing"]);
  });

  it("does not count a task on a node that is down as running", () => {
    const m = new Convergence();
    const f = m.observe(service({ global: true }), [task(0, S.TASK_STATE_RUNNING, { node: "node1" }), task(0, S.TASK_STATE_RUNNING, { node: "down1" })], up, NOW);
    expect(text(f)).toEqual(["overall progress: 1 out of 2 tasks", "node1: running"]);
  });
});

describe("the verdict of an update", () => {
  const s = service({ replicas: 1 });
  const running = [task(1, S.TASK_STATE_RUNNING)];

  it("a paused update is an error carrying the managers' message", () => {
    const m = new Convergence();
    m.observe(withStatus(s, status(UpdateState.UPDATE_STATE_UPDATING, "update in progress")), [], up, NOW);
    const f = m.observe(withStatus(s, status(UpdateState.UPDATE_STATE_PAUSED, "update paused: 1 new task(s) failed")), running, up, NOW + 200);
    expect(f.end).toEqual({ ok: false, error: "service update paused: 1 new task(s) failed" });
  });

  it("an update that rolled back by itself shows the rollback, then fails", () => {
    const m = new Convergence();
    const f = m.observe(withStatus(s, status(UpdateState.UPDATE_STATE_ROLLBACK_STARTED, "rollback started: 1 new task(s) failed")), [task(1, S.TASK_STATE_STARTING)], up, NOW);
    expect(text(f)).toEqual(["rollback: rollback started: 1 new task(s) failed", "overall progress: rolling back update: 0 out of 1 tasks", "1/1: starting"]);
    const end = m.observe(withStatus(s, status(UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED, "rollback completed")), running, up, NOW + 200);
    expect(end.end).toEqual({ ok: false, error: "service rolled back: 1 new task(s) failed" });
  });

  it("an update being rolled back is not success, however long its tasks have run", () => {
    const m = new Convergence();
    const rolling = withStatus(s, status(UpdateState.UPDATE_STATE_ROLLBACK_STARTED, "rollback started: 1 new task(s) failed"));
    m.observe(rolling, running, up, NOW);
    expect(m.observe(rolling, running, up, NOW + 60_000).end).toBeUndefined();
    const end = m.observe(withStatus(s, status(UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED, "rollback completed")), running, up, NOW + 61_000);
    expect(end.end).toEqual({ ok: false, error: "service rolled back: 1 new task(s) failed" });
  });

  it("a paused rollback is an error", () => {
    const f = new Convergence({ rollback: true }).observe(withStatus(s, status(UpdateState.UPDATE_STATE_ROLLBACK_PAUSED, "rollback paused: 1 task(s) failed")), running, up, NOW);
    expect(f.end).toEqual({ ok: false, error: "service rollback paused: 1 task(s) failed" });
  });

  it("for `service rollback` a completed rollback is the goal", () => {
    const m = new Convergence({ rollback: true });
    m.observe(withStatus(s, status(UpdateState.UPDATE_STATE_ROLLBACK_STARTED, "manually requested rollback")), [task(1, S.TASK_STATE_STARTING)], up, NOW);
    const done = withStatus(s, status(UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED, "rollback completed"));
    expect(m.observe(done, running, up, NOW + 200).end).toBeUndefined();
    const f = m.observe(done, running, up, NOW + 5300);
    expect(f.end).toEqual({ ok: true });
    // The rollback line keeps its place and says how it ended.
    expect(text(f)).toEqual(["rollback: rollback completed", "overall progress: rolling back update: 1 out of 1 tasks", "1/1: running", "verify: Service converged"]);
  });

  it("a completed update ends at once: the managers watched the new tasks already", () => {
    const m = new Convergence();
    m.observe(withStatus(s, status(UpdateState.UPDATE_STATE_UPDATING, "update in progress")), [task(1, S.TASK_STATE_STARTING)], up, NOW);
    const f = m.observe(withStatus(s, status(UpdateState.UPDATE_STATE_COMPLETED, "update completed")), running, up, NOW + 200);
    expect(f.end).toEqual({ ok: true });
    expect(text(f)).toEqual(["overall progress: 1 out of 1 tasks", "1/1: running", "verify: Service converged"]);
  });

  it("shows why the new tasks failed along with the verdict", () => {
    const f = new Convergence().observe(
      withStatus(s, status(UpdateState.UPDATE_STATE_PAUSED, "update paused")),
      [task(1, S.TASK_STATE_REJECTED, { desired: S.TASK_STATE_READY, err: "pull busybox:nosuch: image not found" })],
      up,
      NOW,
    );
    expect(f.end).toEqual({ ok: false, error: "service update paused" });
    expect(text(f)).toContain("1/1: pull busybox:nosuch: image not found");
  });

  it("a completed update ends at once even while the display waits out its own monitor period", () => {
    const m = new Convergence();
    m.observe(withStatus(s, status(UpdateState.UPDATE_STATE_UPDATING, "update in progress")), running, up, NOW);
    expect(m.observe(withStatus(s, status(UpdateState.UPDATE_STATE_COMPLETED, "update completed")), running, up, NOW + 200).end).toEqual({ ok: true });
  });

  it("a status left by an earlier update is not this one's", () => {
    const old = status(UpdateState.UPDATE_STATE_PAUSED, "update paused: 1 new task(s) failed", NOW - 60_000);
    const m = new Convergence({ before: old });
    expect(m.observe(withStatus(s, old), [task(1, S.TASK_STATE_STARTING)], up, NOW).end).toBeUndefined();
    const f = m.observe(withStatus(s, status(UpdateState.UPDATE_STATE_PAUSED, "update paused: 2 new task(s) failed")), running, up, NOW + 200);
    expect(f.end).toEqual({ ok: false, error: "service update paused: 2 new task(s) failed" });
  });

  it("uses the service's own monitor period", () => {
    const m = new Convergence();
    const quick = service({ replicas: 1 });
    quick.spec!.update!.monitorMs = 1000;
    m.observe(quick, running, up, NOW);
    expect(m.observe(quick, running, up, NOW + 1000).end).toEqual({ ok: true });
  });
});
