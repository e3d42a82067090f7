// Rolling updates on a 3+3 lab: batches and their delay, stop-first and start-first order, a
// failing health check pausing or rolling back by itself, `service rollback`, and an update
// carried on by a new leader — as a user sees them through `shoal`.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskState, UpdateState, type Task } from "../../proto/gen/cluster.js";
import { labKill, labStart } from "../../lab/lab.js";
import { Cluster, eventually, isRunning } from "./harness.js";

const HEALTH = ["--health-cmd", "wget -qO- http://127.0.0.1:8080/ >/dev/null", "--health-interval", "1s", "--health-retries", "2"];
const WEB = ["busybox:1", "httpd", "-f", "-p", "8080", "-h", "/var/www"];

describe("rolling updates on a 3+3 lab", () => {
  let c: Cluster;
  let n = 0;
  const create = async (replicas: number, ...flags: string[]): Promise<string> => {
    const name = `u${++n}`;
    c.ok("m1", "service", "create", "-d", "--name", name, "--replicas", String(replicas), ...flags, ...WEB);
    await eventually(`${name}: ${replicas} running`, async () => (await c.tasks(name)).tasks.filter(isRunning).length === replicas);
    return name;
  };
  const service = async (name: string, via = "m1") => (await c.services(via)).find((s) => s.service?.spec?.annotations?.name === name)!.service!;
  const tasksOf = async (name: string, via = "m1"): Promise<Task[]> => (await c.tasks(name, via)).tasks;
  const updateState = async (name: string, via = "m1") => (await service(name, via)).updateStatus?.state;

  beforeAll(async () => {
    c = await Cluster.up(`e2u${process.pid % 1000}`, 3, 3);
  });
  afterAll(async () => {
    await c?.down();
  });

  it("replaces 6 replicas 2 at a time, each pair the update delay after the last came up, stop-first", async () => {
    const name = await create(6, ...HEALTH);
    c.ok("m2", "service", "update", "-d", "--update-parallelism", "2", "--update-delay", "1s", "--image", "busybox:2", name);
    await eventually("update completed", async () => (await updateState(name)) === UpdateState.UPDATE_STATE_COMPLETED, 90_000);
    const all = await tasksOf(name);
    const made = all.filter((t) => t.specVersion === 2).sort((a, b) => a.meta!.createdAt - b.meta!.createdAt);
    expect(made).toHaveLength(6);
    expect(made.every((t) => t.spec?.container?.image === "busybox:2" && isRunning(t))).toBe(true);
    for (let b = 1; b < 3; b++) {
      const pair = made.slice(2 * b, 2 * b + 2);
      // Two start together; the next two wait for the delay after the previous two came up. The
      // timestamp read now is the last report's: a later report of the same state with other details
      // can move it past the one the updater waited on (CI once: 44 ms early by this reading).
      const upBefore = Math.max(...made.slice(2 * (b - 1), 2 * b).map((t) => t.status!.timestamp));
      expect(Math.min(...pair.map((t) => t.meta!.createdAt))).toBeGreaterThanOrEqual(upBefore + 1000 - 250);
    }
    // Stop-first: each slot's old task had stopped before its successor ran.
    for (const t of made) {
      const old = all.find((o) => o.slot === t.slot && o.specVersion === 1 && o.status!.state === TaskState.TASK_STATE_SHUTDOWN)!;
      expect(old.status!.timestamp).toBeLessThanOrEqual(t.status!.timestamp);
    }
  });

  it("start-first starts each new task before its old one stops", async () => {
    const name = await create(3, ...HEALTH);
    c.ok("m1", "service", "update", "-d", "--update-order", "start-first", "--image", "busybox:2", name);
    await eventually("update completed", async () => (await updateState(name)) === UpdateState.UPDATE_STATE_COMPLETED, 90_000);
    const all = await tasksOf(name);
    for (const t of all.filter((x) => x.specVersion === 2)) {
      const old = all.find((o) => o.slot === t.slot && o.specVersion === 1)!;
      expect(old.desiredState).toBeGreaterThanOrEqual(TaskState.TASK_STATE_SHUTDOWN);
      expect(t.status!.timestamp).toBeLessThanOrEqual(old.status!.timestamp);
    }
  });

  it("an update whose health check fails pauses, and the old version keeps serving", async () => {
    const name = await create(4, ...HEALTH);
    const r = c.shoal("m1", "service", "update", "--update-monitor", "3s", "--health-cmd", "wget -qO- http://127.0.0.1:9/", name);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/paused/);
    const s = await service(name);
    expect(s.updateStatus?.state).toBe(UpdateState.UPDATE_STATE_PAUSED);
    expect(c.ok("m1", "service", "inspect", "--pretty", name)).toMatch(/paused/);
    const old = (await tasksOf(name)).filter((t) => t.specVersion === s.specVersion - 1 && isRunning(t));
    expect(old.length).toBeGreaterThanOrEqual(3);
  });

  it("with failure action rollback, a failing update rolls back by itself", async () => {
    const name = await create(4, ...HEALTH);
    const r = c.shoal("m1", "service", "update", "--update-failure-action", "rollback", "--update-monitor", "3s", "--health-cmd", "wget -qO- http://127.0.0.1:9/", name);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/rolled back|rollback/);
    await eventually("rollback completed", async () => (await updateState(name)) === UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED, 60_000);
    const running = (await tasksOf(name)).filter(isRunning);
    expect(running).toHaveLength(4);
    expect(running.every((t) => (t.spec?.container?.healthcheck?.test ?? []).join(" ").includes(":8080"))).toBe(true);
  });

  it("service rollback returns to the previous spec with the rollback policy", async () => {
    const name = await create(3);
    c.ok("m1", "service", "update", "-d", "--image", "busybox:2", "--rollback-parallelism", "0", name);
    await eventually("update completed", async () => (await updateState(name)) === UpdateState.UPDATE_STATE_COMPLETED, 60_000);
    c.ok("m1", "service", "rollback", "-d", name);
    await eventually("rollback completed", async () => (await updateState(name)) === UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED, 60_000);
    const s = await service(name);
    expect(s.spec?.task?.container?.image).toBe("busybox:1");
    const running = (await tasksOf(name)).filter(isRunning);
    expect(running).toHaveLength(3);
    expect(running.every((t) => t.spec?.container?.image === "busybox:1")).toBe(true);
  });

  it("the progress display is right on a terminal (under tmux) and plain lines in a pipe", async () => {
    const name = await create(3);
    const shoal = ["nsenter", ...c.shoalArgs("m1")];
    const session = `shoal-e2e-${process.pid}`;
    const done = join(tmpdir(), `${session}.done`);
    rmSync(done, { force: true });
    // A real terminal of 120x30: the display redraws its lines in place with cursor moves.
    const script = `${shoal.map((a) => `'${a}'`).join(" ")} service update --force --update-parallelism 1 ${name}; echo "exit $?" > ${done}; sleep 600`;
    execFileSync("tmux", ["new-session", "-d", "-s", session, "-x", "120", "-y", "30", script]);
    try {
      await eventually("the update under tmux ends", () => existsSync(done), 120_000, 200);
      expect(readFileSync(done, "utf8").trim()).toBe("exit 0");
      const screen = execFileSync("tmux", ["capture-pane", "-p", "-t", session], { encoding: "utf8" }).split("\n").map((l) => l.trimEnd()).filter(Boolean);
      // Each line once, in place: no frame drawn below the last, no stray escape codes.
      expect(screen).toContain(name);
      expect(screen).toContain("overall progress: 3 out of 3 tasks");
      for (const i of [1, 2, 3]) expect(screen.filter((l) => l.startsWith(`${i}/3:`))).toEqual([`${i}/3: running   [==================================================>]`]);
      expect(screen).toContain("verify: Service converged");
      expect(screen.join("\n")).not.toMatch(/\x1b|\[\d*[A-K]/);
    } finally {
      spawnSync("tmux", ["kill-session", "-t", session]);
      rmSync(done, { force: true });
    }
    // In a pipe: plain lines, no cursor moves, ending with the verdict.
    const piped = c.ok("m1", "service", "update", "--force", "--update-parallelism", "3", name);
    expect(piped).not.toMatch(/\x1b/);
    expect(piped.trim().split("\n").at(-1)).toBe("verify: Service converged");
  });

  it("a leader killed mid-update: the new leader carries the update to the end", async () => {
    const name = await create(6);
    const leader = () => /-(m\d)\b/.exec(c.ok("m1", "node", "ls").split("\n").find((l) => /Leader/.test(l))!)![1];
    const old = leader();
    const via = ["m1", "m2", "m3"].find((m) => m !== old)!;
    c.ok(via, "service", "update", "-d", "--update-parallelism", "1", "--update-delay", "1s", "--image", "busybox:2", name);
    await eventually("the update under way", async () => (await tasksOf(name, via)).some((t) => t.specVersion === 2 && isRunning(t)), 30_000);
    await labKill(c.name, c.host(old));
    try {
      await eventually("update completed under the new leader", async () => (await updateState(name, via)) === UpdateState.UPDATE_STATE_COMPLETED, 120_000, 200);
      const running = (await tasksOf(name, via)).filter(isRunning);
      expect(running).toHaveLength(6);
      expect(running.every((t) => t.spec?.container?.image === "busybox:2")).toBe(true);
    } finally {
      await labStart(c.name, c.host(old));
    }
  });
});
