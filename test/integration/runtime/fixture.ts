// Containers for the runtime tests: a shared busybox lower layer, a fresh upper/work per
// container, and a leak check (cgroup dirs, mounts, processes) after each test.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeBusyboxRootfs } from "../../support/busybox.js";
import { deleteContainer, start, watchExit, type ContainerSpec, type ExitStatus } from "../../../agent/engine/runtime/index.js";

export const CGROUP_PARENT = "shoal-test";
const CONTROLLERS = ["memory", "cpu", "cpuacct", "pids"];

export class Lab {
  readonly root = mkdtempSync(join(tmpdir(), "shoal-rt-"));
  readonly lower = makeBusyboxRootfs(join(this.root, "lower"));
  private ids: string[] = [];
  private pids: number[] = [];
  private n = 0;

  spec(args: string[], extra: Partial<ContainerSpec> = {}): ContainerSpec {
    const id = `t${process.pid}-${++this.n}`;
    const dir = join(this.root, id);
    mkdirSync(join(dir, "upper"), { recursive: true });
    mkdirSync(join(dir, "work"), { recursive: true });
    this.ids.push(id);
    return {
      id,
      args,
      env: ["PATH=/bin:/usr/bin", "HOME=/root"],
      hostname: "box-" + this.n,
      rootfs: { lowerDirs: [this.lower], upperDir: join(dir, "upper"), workDir: join(dir, "work") },
      cgroupParent: CGROUP_PARENT,
      ...extra,
    };
  }

  stateDir(spec: ContainerSpec): string {
    return join(this.root, spec.id, "state");
  }

  async start(spec: ContainerSpec): Promise<{ pid: number; shimPid: number; stateDir: string }> {
    const r = await start(spec, this.stateDir(spec));
    this.pids.push(r.pid, r.shimPid);
    return { ...r, stateDir: this.stateDir(spec) };
  }

  /** Starts the container and waits for its exit; returns the exit and its stdout/stderr lines. */
  async run(spec: ContainerSpec): Promise<ExitStatus & { out: string[]; err: string[] }> {
    const { stateDir } = await this.start(spec);
    const status = await watchExit(stateDir).exited;
    const records = existsSync(join(stateDir, "log")) ? readFileSync(join(stateDir, "log"), "utf8").split("\n") : [];
    const lines = (s: string) =>
      records.filter((r) => r.split(" ")[1] === s).map((r) => r.split(" ").slice(3).join(" "));
    return { ...status, out: lines("stdout"), err: lines("stderr") };
  }

  /** Deletes every container and reports anything left behind. */
  async cleanup(): Promise<string[]> {
    const leaks: string[] = [];
    for (const id of this.ids) {
      const dir = join(this.root, id, "state");
      if (existsSync(dir)) await deleteContainer(dir).catch((e: Error) => leaks.push(`delete ${id}: ${e.message}`));
    }
    for (const id of this.ids)
      for (const c of CONTROLLERS) if (existsSync(`/sys/fs/cgroup/${c}/${CGROUP_PARENT}/${id}`)) leaks.push(`cgroup ${c}/${id}`);
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n"))
      if (line.includes(this.root)) leaks.push(`mount ${line}`);
    for (const pid of this.pids) if (alive(pid)) {
      leaks.push(`process ${pid}`);
      try { process.kill(pid, "SIGKILL"); } catch { /* gone meanwhile */ }
    }
    this.ids = [];
    this.pids = [];
    return leaks;
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
    for (const c of CONTROLLERS) {
      const parent = `/sys/fs/cgroup/${c}/${CGROUP_PARENT}`;
      if (existsSync(parent) && readdirSync(parent, { withFileTypes: true }).every((d) => !d.isDirectory())) {
        try { rmdirSync(parent); } catch { /* another run still uses it */ }
      }
    }
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z");
  } catch {
    return false;
  }
}

export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
