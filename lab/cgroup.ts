// Each lab host's daemon lives in one freezer cgroup: a power loss freezes it (so it starts
// nothing more), SIGKILLs every member and thaws. The runtime's spawner and the shims it forks
// leave the daemon's cgroups (as on a real host, where a daemon's service stop must not reach
// them), so killHost finds those by the host's namespaces instead (power.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function makeCgroup(dir: string): void {
  mkdirSync(dir, { recursive: true });
}

export function cgroupPids(dir: string): number[] {
  if (!existsSync(join(dir, "cgroup.procs"))) return [];
  return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
}

/**
 * A dead process stays a zombie until its parent (often init) reaps it, and a restarted daemon
 * that finds its old pid in its lock file would take the zombie for a live daemon.
 */
export async function waitReaped(pids: Iterable<number>): Promise<void> {
  const left = [...pids];
  for (let i = 0; i < 500 && left.some((pid) => existsSync(`/proc/${pid}`)); i++) await sleep(10);
}

/** Kills every process in `dir` at once and waits until none is left. */
export async function killCgroup(dir: string): Promise<void> {
  if (!existsSync(join(dir, "cgroup.procs"))) return;
  const state = join(dir, "freezer.state");
  writeFileSync(state, "FROZEN");
  for (let i = 0; i < 200 && readFileSync(state, "utf8").trim() !== "FROZEN"; i++) await sleep(5);
  for (const pid of cgroupPids(dir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  writeFileSync(state, "THAWED");
  for (let i = 0; i < 1000 && cgroupPids(dir).length > 0; i++) await sleep(10);
  if (cgroupPids(dir).length > 0) throw new Error(`processes in ${dir} survived SIGKILL: ${cgroupPids(dir).join(" ")}`);
}

/** Removes `dir` and its children (each must be empty of processes). */
export function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroup(join(dir, e.name));
  rmdirSync(dir);
}

/** The cgroups a daemon left behind when killed: `parent` under every v1 controller and v2. */
export function removeDaemonCgroups(parent: string): void {
  for (const ctl of readdirSync("/sys/fs/cgroup")) {
    const dir = join("/sys/fs/cgroup", ctl, parent);
    try {
      removeCgroup(dir);
    } catch {
      // still busy or not ours to remove: left for the operator, down reports nothing more
    }
  }
}
