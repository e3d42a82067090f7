// One lab host: a network namespace on the lab bridge, and its daemon in its own mount and UTS
// namespaces (not `ip netns exec`, which remounts /sys and so drops the cgroup v1 mounts).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DAEMON_NODE_FLAGS } from "../agent/daemon/node-flags.js";
import { daemonNames } from "../agent/network/names.js";
import { killCgroup, makeCgroup, removeDaemonCgroups, waitReaped } from "./cgroup.js";
import { hostNsInodes, hostPids, killHostProcesses, type HostIdentity } from "./power.js";

const FREEZER_ROOT = "/sys/fs/cgroup/freezer";
import { hostDir, type LabHost, type LabState } from "./state.js";

/** The daemon's socket as seen inside the host, and (through the daemon's root) from outside. */
export const HOST_SOCKET = "/run/shoal/shoal.sock";
export const socketFromOutside = (pid: number): string => `/proc/${pid}/root${HOST_SOCKET}`;

/** The command a host runs as its daemon; tests may swap in a stand-in. */
export type DaemonCommand = (lab: LabState, host: LabHost) => string[];

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    if (dir === "/") throw new Error("cannot find the shoal package root above " + fileURLToPath(import.meta.url));
    dir = dirname(dir);
  }
  return dir;
}

export const shoalDaemon: DaemonCommand = (lab, host) => [
  process.execPath,
  ...DAEMON_NODE_FLAGS,
  join(packageRoot(), "dist/cli/main.js"),
  "daemon",
  "--data-root", join(hostDir(lab, host.name), "data"),
  "--exec-root", "/run/shoal",
  "--socket", HOST_SOCKET,
  "--registry-mirror", lab.registry,
  "--insecure-registry", lab.registry,
];

/** A host keeps its MAC across reboots, so its peers' ARP caches stay right after `lab start`. */
const hostMac = (address: string): string => "02:5a:" + address.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).join(":");

/** Makes the hosts' namespaces, wires them to the bridge and gives each its address. */
export function makeHostNetworks(lab: LabState, hosts: LabHost[]): void {
  ipBatch(hosts.flatMap((h) => [`netns add ${h.name}`, `link add ${h.veth} type veth peer name eth0 netns ${h.name}`, `link set ${h.veth} master ${lab.bridge} up`]));
  for (const h of hosts) ipBatch([`link set eth0 address ${hostMac(h.address)}`, `addr add ${h.address}/24 dev eth0`, "link set eth0 up", "link set lo up"], h.name);
}

export const hostCgroup = (lab: LabState, host: string): string => join(lab.freezer, host);

/**
 * Starts the host's daemon: a shell in a new mount + UTS namespace joins the host's netns and
 * cgroup, names the host, gives it a fresh /run (its own /run/shoal and /run/netns, gone with
 * the namespace as after a reboot), then becomes the daemon. Returns the daemon's PID.
 */
export function startHost(lab: LabState, host: LabHost, command: DaemonCommand): number {
  const dir = hostDir(lab, host.name);
  mkdirSync(join(dir, "data"), { recursive: true });
  makeCgroup(hostCgroup(lab, host.name));
  const script = [
    "set -e",
    `echo $$ > ${hostCgroup(lab, host.name)}/cgroup.procs`,
    `echo ${host.name} > /proc/sys/kernel/hostname`,
    "mount -t tmpfs -o mode=755 lab-run /run",
    "mkdir -p /run/netns /run/shoal /run/lock",
    'exec "$@"',
  ].join("\n");
  const log = openSync(join(dir, "daemon.log"), "a");
  const child = spawn(
    "unshare",
    ["--mount", "--uts", "--propagation", "private", "--", "nsenter", `--net=/run/netns/${host.name}`, "--", "sh", "-c", script, "lab-host", ...command(lab, host)],
    { detached: true, stdio: ["ignore", log, log], env: { ...process.env, HOSTNAME: host.name } },
  );
  child.unref();
  if (!child.pid) throw new Error(`could not start the daemon of ${host.name}: see ${join(dir, "daemon.log")}`);
  return child.pid;
}

function hostIdentity(lab: LabState, host: LabHost): HostIdentity {
  const cgroupParent = daemonNames(join(hostDir(lab, host.name), "data")).cgroupParent;
  return { freezer: hostCgroup(lab, host.name).slice(FREEZER_ROOT.length), cgroupParent, nsInodes: hostNsInodes(host.name, host.pid) };
}

/** Every live process of the host: daemon, shims, containers, sessions. */
export const hostProcesses = (lab: LabState, host: LabHost): number[] => hostPids(hostIdentity(lab, host));

/**
 * Power loss: the daemon and everything it started die at once, and what a reboot would wipe
 * goes too: the host's network namespace (the daemon's bridges, veths, nftables) and the
 * cgroups the daemon made. The data directory stays.
 */
export async function killHost(lab: LabState, host: LabHost, o: { reap: boolean }): Promise<void> {
  const id = hostIdentity(lab, host);
  const cgroupParent = id.cgroupParent;
  await killCgroup(hostCgroup(lab, host.name)); // the daemon first, frozen so it starts nothing more
  const killed = await killHostProcesses(id); // then its shims and containers, wherever they are
  if (o.reap) await waitReaped(killed);
  removeDaemonCgroups(cgroupParent);
  if (existsSync(`/run/netns/${host.name}`)) spawnSync("ip", ["netns", "del", host.name], { stdio: "ignore" });
  spawnSync("ip", ["link", "del", host.veth], { stdio: "ignore" });
}

/** Whether the host's recorded daemon is alive (and still the process we started). */
export function hostRunning(lab: LabState, host: LabHost): boolean {
  if (!host.pid) return false;
  try {
    return readFileSync(join(hostCgroup(lab, host.name), "cgroup.procs"), "utf8").split("\n").includes(String(host.pid));
  } catch {
    return false;
  }
}

/** Runs `ip` commands in one process (in `netns` when given); fails with ip's own message. */
/** Whether `pid` exists and is not a zombie waiting to be reaped. */
export function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

export function ipBatch(lines: string[], netns?: string): void {
  if (!lines.length) return;
  const r = spawnSync("ip", [...(netns ? ["-n", netns] : []), "-batch", "-"], { input: lines.join("\n") + "\n", encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip: ${(r.stderr || r.error?.message || "failed").trim().split("\n")[0]}`);
}
