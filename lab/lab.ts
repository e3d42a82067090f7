// `shoal lab`: a multi-host lab on one machine. Each step of `up` is recorded in the lab's state
// file before it is taken, so `down` removes everything, even after `up` crashed half-way.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { killCgroup, removeCgroup } from "./cgroup.js";
import { makeHostNetworks, hostRunning, HOST_SOCKET, ipBatch, killHost, shoalDaemon, startHost, type DaemonCommand } from "./host.js";
import { bridgeName, checkLabName, FREEZER, LAB_ROOT, hostNames, nftTableName, pickSubnet, REGISTRY_PORT, vethName } from "./names.js";
import { bootstrapCluster, waitReady } from "./readiness.js";
import { etcdEndpoints, etcdMembers, startEtcd, waitEtcd } from "./etcd.js";
import { fillRegistry, registryCgroup, startRegistry } from "./registry.js";
import { findHost, labDir, listLabs, loadLab, mustLoadLab, saveLab, type LabHost, type LabState } from "./state.js";
import { join } from "node:path";

export interface UpOptions {
  name: string;
  managers: number;
  workers: number;
  /** Only for tests: what runs as each host's daemon (default: the real `shoal daemon`). */
  daemon?: DaemonCommand;
  probe?: "version" | "socket";
  timeoutMs?: number;
  /** Where the swarm keeps its state: the managers' own Raft (default) or a lab etcd cluster. */
  store?: "raft" | "etcd";
}

export async function labUp(o: UpOptions): Promise<LabState> {
  checkLabName(o.name);
  if (o.managers < 1 || o.workers < 0 || o.managers + o.workers > 99) throw new Error("a lab needs 1 or more managers and 0-98 workers");
  if (loadLab(o.name)) throw new Error(`lab "${o.name}" already exists: shoal lab down --name ${o.name} first`);
  const taken = new Set(listLabs().map((l) => l.prefix));
  const prefix = pickSubnet(o.name, taken);
  const lab: LabState = {
    name: o.name,
    dir: labDir(o.name),
    bridge: bridgeName(o.name),
    prefix,
    gateway: `${prefix}.1`,
    registry: `${prefix}.1:${REGISTRY_PORT}`,
    nftTable: nftTableName(o.name),
    freezer: join(FREEZER, o.name),
    hosts: hostNames(o.name, o.managers, o.workers).map((h, i) => ({ ...h, address: `${prefix}.${10 + i}`, veth: vethName(o.name, h.name) })),
    partitions: [],
    store: o.store === "etcd" ? "etcd" : undefined,
  };
  for (const other of listLabs()) {
    if (other.bridge === lab.bridge) throw new Error(`lab "${other.name}" already uses bridge ${lab.bridge}: pick another lab name`);
  }
  saveLab(lab); // the whole plan, before anything exists: down undoes what it finds of it
  try {
    await bringUp(lab, o);
  } catch (err) {
    throw new Error(`${(err as Error).message}; then shoal lab down --name ${lab.name} to remove what was made`);
  }
  return lab;
}

async function bringUp(lab: LabState, o: UpOptions): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  ipBatch([`link add ${lab.bridge} type bridge`, `addr add ${lab.gateway}/24 dev ${lab.bridge}`, `link set ${lab.bridge} up`]);
  startRegistry(lab);
  if (lab.store === "etcd") startEtcd(lab);
  const filled = fillRegistry(lab, deadline);
  filled.catch(() => undefined);
  makeHostNetworks(lab, lab.hosts);
  for (const h of lab.hosts) h.pid = startHost(lab, h, o.daemon ?? shoalDaemon);
  saveLab(lab);
  await filled;
  await Promise.all(lab.hosts.map((h) => waitReady(lab, h, deadline, o.probe)));
  // Stand-in daemons (tests of the lab itself) have no swarm to form.
  if (o.daemon) return;
  if (lab.store === "etcd") {
    await waitEtcd(lab, deadline);
    await bootstrapCluster(lab, deadline, { store: "etcd", etcd: { endpoints: etcdEndpoints(lab), prefix: "/shoal/" } });
  } else await bootstrapCluster(lab, deadline);
}

/** Removes everything the lab's state names; whatever is already gone is skipped. */
export async function labDown(name: string): Promise<void> {
  checkLabName(name);
  const lab = loadLab(name);
  if (!lab) {
    if (existsSync(labDir(name))) rmSync(labDir(name), { recursive: true, force: true });
    return;
  }
  // Reaped before going on: a container still exiting keeps its cgroup busy (left behind), and a
  // `ps` right after `lab down` would still show it.
  for (const h of lab.hosts) await killHost(lab, h, { reap: true });
  await killCgroup(registryCgroup(lab));
  for (const m of etcdMembers(lab)) if (existsSync(m.cgroup)) await killCgroup(m.cgroup);
  removeCgroup(lab.freezer);
  quiet("nft", ["delete", "table", "bridge", lab.nftTable]);
  quiet("ip", ["link", "del", lab.bridge]);
  rmSync(lab.dir, { recursive: true, force: true });
  removeIfEmpty(FREEZER);
  removeIfEmpty(LAB_ROOT);
}

/** The shared parents of all labs go with the last lab. */
function removeIfEmpty(dir: string): void {
  try {
    if (!readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() || dir === LAB_ROOT)) rmdirSync(dir);
  } catch {
    // another lab still uses it, or it is already gone
  }
}

function quiet(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: "ignore" });
}

export interface HostRow {
  lab: string;
  host: string;
  role: string;
  address: string;
  pid: number | undefined;
  state: "running" | "down";
}

export function labRows(name?: string): HostRow[] {
  const labs = name ? [mustLoadLab(name)] : listLabs();
  return labs.flatMap((lab) =>
    lab.hosts.map((h) => {
      const up = hostRunning(lab, h);
      return { lab: lab.name, host: h.name, role: h.role, address: h.address, pid: up ? h.pid : undefined, state: up ? "running" : "down" } as HostRow;
    }),
  );
}

/** Runs `cmd` on a lab host as ssh would; resolves to its exit code. */
export function labExec(name: string, host: string, cmd: string[]): number {
  const lab = mustLoadLab(name);
  const h = findHost(lab, host);
  const enter = hostRunning(lab, h) ? ["--target", String(h.pid), "--net", "--mount", "--uts", `--wd=${process.cwd()}`] : [`--net=/run/netns/${h.name}`];
  const r = spawnSync("nsenter", [...enter, "--", "env", `SHOAL_HOST=unix://${HOST_SOCKET}`, ...cmd], { stdio: "inherit" });
  if (r.error) throw new Error(`cannot run ${cmd[0]} on ${h.name}: ${r.error.message}`);
  return r.status ?? 128 + 9;
}

export async function labKill(name: string, host: string): Promise<void> {
  const lab = mustLoadLab(name);
  const h = findHost(lab, host);
  await killHost(lab, h, { reap: true });
  h.pid = undefined;
  saveLab(lab);
}

export async function labStart(name: string, host: string, o: { daemon?: DaemonCommand; probe?: "version" | "socket"; timeoutMs?: number } = {}): Promise<void> {
  const lab = mustLoadLab(name);
  const h = findHost(lab, host);
  if (hostRunning(lab, h)) throw new Error(`${h.name} is already running (pid ${h.pid}): shoal lab kill ${h.name} first`);
  await killHost(lab, h, { reap: true }); // whatever survived of an earlier boot
  makeHostNetworks(lab, [h]);
  h.pid = startHost(lab, h, o.daemon ?? shoalDaemon);
  saveLab(lab);
  await waitReady(lab, h, Date.now() + (o.timeoutMs ?? 30_000), o.probe);
}

/** Drops traffic between `hosts` and `from` (default: every other host), both ways, on the bridge. */
/** The pseudo-host `etcd` names the lab's etcd cluster (an etcd-backed lab) as one side of a partition. */
export const ETCD_SIDE = "etcd";

export function labPartition(name: string, hosts: string[], from?: string[]): void {
  const lab = mustLoadLab(name);
  const etcd = [...hosts, ...(from ?? [])].includes(ETCD_SIDE);
  if (etcd && lab.store !== "etcd") throw new Error(`lab ${name} keeps its state in Raft, not etcd: there is no etcd to partition from`);
  const a = hosts.filter((x) => x !== ETCD_SIDE).map((x) => findHost(lab, x));
  const b = from?.length ? from.filter((x) => x !== ETCD_SIDE).map((x) => findHost(lab, x)) : etcd ? [] : lab.hosts.filter((h) => !a.includes(h));
  if (a.some((h) => b.includes(h))) throw new Error("a host cannot be partitioned from itself: list it on one side only");
  lab.partitions.push({ hosts: a.map((h) => h.name), from: [...b.map((h) => h.name), ...(etcd ? [ETCD_SIDE] : [])] });
  saveLab(lab);
  const set = (hs: LabHost[]) => `{ ${hs.map((h) => h.address).join(", ")} }`;
  const t = `bridge ${lab.nftTable}`;
  const rules = [`add table ${t}`, `add chain ${t} forward { type filter hook forward priority 0; policy accept; }`];
  if (a.length > 0 && b.length > 0) {
    rules.push(`add rule ${t} forward ip saddr ${set(a)} ip daddr ${set(b)} drop`, `add rule ${t} forward ip saddr ${set(b)} ip daddr ${set(a)} drop`);
  }
  if (etcd) {
    // etcd listens on the bridge's own address: its traffic meets the bridge's input hook, not forward.
    const cut = [...a, ...b];
    if (cut.length === 0) throw new Error("name the hosts to cut off from etcd, e.g. shoal lab partition m1 --from etcd");
    const ports = etcdMembers(lab).map((m) => Number(new URL(m.clientUrl).port));
    rules.push(`add chain ${t} input { type filter hook input priority 0; policy accept; }`);
    rules.push(`add rule ${t} input ip saddr ${set(cut)} ip daddr ${lab.gateway} tcp dport { ${ports.join(", ")} } drop`);
  }
  execFileSync("nft", ["-f", "-"], { input: rules.join("\n") + "\n", stdio: ["pipe", "ignore", "pipe"] });
}

export function labHeal(name: string): void {
  const lab = mustLoadLab(name);
  quiet("nft", ["delete", "table", "bridge", lab.nftTable]);
  lab.partitions = [];
  saveLab(lab);
}
