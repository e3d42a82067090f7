// Moving a process into a cgroup (a container's first process, at every start) takes the kernel's
// cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period: 10 to 20 ms on this
// kind of machine, the largest single cost of a start. The cgroup2 mount option favordynmods
// (Linux 6.0) keeps that lock in its writer-friendly mode instead, so a move costs ~50 µs; forks
// and exits pay an atomic operation more. The lock is one for all hierarchies, so setting it on
// the cgroup2 mount also speeds up moves into cgroup v1 hierarchies. The daemon sets it at start
// unless told not to (--keep-cgroup-mount), keeping the mount's other options.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";

interface Cgroup2Mount {
  mountPoint: string;
  superOptions: string[];
}

/** The first cgroup2 mount in a mountinfo text. */
export function cgroup2Mount(mountinfo: string): Cgroup2Mount | undefined {
  for (const line of mountinfo.split("\n")) {
    const [mine, fs] = line.split(" - ");
    if (!fs) continue;
    const [type, , superOpts = ""] = fs.split(" ");
    if (type !== "cgroup2") continue;
    const mountPoint = mine.split(" ")[4]?.replace(/\\040/g, " ");
    if (mountPoint) return { mountPoint, superOptions: superOpts.split(",").filter(Boolean) };
  }
  return undefined;
}

/** The remount's options: the mount's own (cgroup2 resets what a remount leaves out) plus favordynmods. */
export function remountOptions(m: Cgroup2Mount): string {
  return ["remount", ...m.superOptions.filter((o) => o !== "rw" && o !== "ro"), "favordynmods"].join(",");
}

/** Sets favordynmods on the cgroup2 mount if it lacks it; says in one line what it did or why not. */
export async function favourCgroupMoves(log: (line: string) => void): Promise<void> {
  const m = cgroup2Mount(readFileSync("/proc/self/mountinfo", "utf8"));
  if (!m || m.superOptions.includes("favordynmods")) return;
  const opts = remountOptions(m);
  await new Promise<void>((resolve) => {
    execFile("mount", ["-o", opts, m.mountPoint], (err, _out, stderr) => {
      if (err) log(`shoal daemon: could not set favordynmods on ${m.mountPoint} (${(stderr || err.message).trim().split("\n")[0]}): each container start waits ~10-20 ms for its cgroup move`);
      else log(`shoal daemon: ${m.mountPoint} remounted with favordynmods, so a container's cgroup move does not wait for an RCU grace period (--keep-cgroup-mount leaves it as it was)`);
      resolve();
    });
  });
}
