// Finding every process of a lab host, to kill them all as a power loss would. The freezer
// cgroup is not enough: the runtime's shim moves itself to the root cgroup of every hierarchy
// (so it outlives its daemon), and containers live in the daemon's own cgroups. So a process
// belongs to the host when it is in the host's freezer cgroup, shares the host's network or
// mount namespace (daemon, shims, host-network containers, `lab exec` sessions), or sits in a
// cgroup under the daemon's cgroup parent (containers, in their own namespaces).
import { readdirSync, readFileSync, statSync } from "node:fs";

export interface HostIdentity {
  freezer: string; // path inside the freezer hierarchy, e.g. "/shoal-lab/lab/lab-m1"
  cgroupParent: string; // the daemon's, e.g. "shoal-1a2b3c4d"
  nsInodes: number[]; // the host's net namespace, and its mount namespace while known
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function nsInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

export function hostNsInodes(netnsName: string, daemonPid?: number): number[] {
  const out = [nsInode(`/run/netns/${netnsName}`), daemonPid ? nsInode(`/proc/${daemonPid}/ns/mnt`) : undefined];
  return out.filter((x): x is number => x !== undefined);
}

function belongs(pid: number, id: HostIdentity): boolean {
  let cgroups: string;
  try {
    if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))) return false; // dead already
    cgroups = readFileSync(`/proc/${pid}/cgroup`, "utf8");
  } catch {
    return false;
  }
  for (const line of cgroups.split("\n")) {
    const [, ctl, path] = line.split(":");
    if (path === undefined) continue;
    if (ctl === "freezer" && (path === id.freezer || path.startsWith(id.freezer + "/"))) return true;
    if (path === `/${id.cgroupParent}` || path.startsWith(`/${id.cgroupParent}/`)) return true;
  }
  for (const ns of ["net", "mnt"]) {
    const ino = nsInode(`/proc/${pid}/ns/${ns}`);
    if (ino !== undefined && id.nsInodes.includes(ino)) return true;
  }
  return false;
}

export function hostPids(id: HostIdentity): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => pid !== process.pid && belongs(pid, id));
}

/** SIGKILLs the host's processes until none is left (a fork racing a pass is caught by the next). */
export async function killHostProcesses(id: HostIdentity): Promise<number[]> {
  const killed = new Set<number>();
  for (let pass = 0; pass < 100; pass++) {
    const pids = hostPids(id);
    if (!pids.length) return [...killed];
    for (const pid of pids) {
      killed.add(pid);
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    await sleep(10);
  }
  throw new Error(`processes of the lab host survived SIGKILL: ${hostPids(id).join(" ")}`);
}
