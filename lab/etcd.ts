// The lab's etcd cluster, for swarms that keep their state in etcd (`lab up --store etcd`): three
// members of Debian's etcd on the bridge's gateway address (lab hosts reach it; loopback they do
// not), tuned for a LAN, each in its own freezer cgroup under the lab's so `down` ends them even
// after a crash, and `etcdMembers` finds their PIDs for fault tests.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeCgroup } from "./cgroup.js";
import { hostDir, type LabState } from "./state.js";

export const ETCD_BIN = "/usr/bin/etcd";
const MEMBERS = 3;
const FIRST_PORT = 2379;

export interface LabEtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  cgroup: string;
}

export function etcdMembers(lab: LabState): LabEtcdMember[] {
  return Array.from({ length: MEMBERS }, (_, i) => ({
    name: `etcd${i + 1}`,
    clientUrl: `http://${lab.gateway}:${FIRST_PORT + 2 * i}`,
    peerUrl: `http://${lab.gateway}:${FIRST_PORT + 2 * i + 1}`,
    cgroup: join(lab.freezer, `etcd${i + 1}`),
  }));
}

export const etcdEndpoints = (lab: LabState): string[] => etcdMembers(lab).map((m) => m.clientUrl);

/** The PIDs in a member's cgroup: the member itself, while it runs. */
export function etcdPids(m: LabEtcdMember): number[] {
  const procs = join(m.cgroup, "cgroup.procs");
  if (!existsSync(procs)) return [];
  return readFileSync(procs, "utf8").split("\n").filter(Boolean).map(Number);
}

/** Starts one member (again, after a kill: its data dir is kept, so it rejoins). */
export function startEtcdMember(lab: LabState, m: LabEtcdMember): void {
  const dir = hostDir(lab, m.name);
  mkdirSync(dir, { recursive: true });
  const fresh = !existsSync(join(dir, "data", "member"));
  const cluster = etcdMembers(lab).map((x) => `${x.name}=${x.peerUrl}`).join(",");
  const args = [
    "--name", m.name,
    "--data-dir", join(dir, "data"),
    "--listen-client-urls", m.clientUrl,
    "--advertise-client-urls", m.clientUrl,
    "--listen-peer-urls", m.peerUrl,
    "--initial-advertise-peer-urls", m.peerUrl,
    "--initial-cluster", cluster,
    "--initial-cluster-state", fresh ? "new" : "existing",
    "--initial-cluster-token", `shoal-lab-${lab.name}`,
    // A LAN's timings (etcd's defaults are 100/1000 ms): a lost etcd leader is replaced sooner.
    "--heartbeat-interval", "50",
    "--election-timeout", "500",
    "--logger", "zap",
    "--log-level", "warn",
  ];
  makeCgroup(m.cgroup);
  const log = openSync(join(dir, "etcd.log"), "a");
  // The shell joins the cgroup before exec, so no etcd process ever runs outside it.
  const quoted = args.map((a) => `'${a}'`).join(" ");
  const child = spawn("sh", ["-c", `echo $$ > ${m.cgroup}/cgroup.procs && exec ${ETCD_BIN} ${quoted}`], { detached: true, stdio: ["ignore", log, log] });
  child.unref();
}

export function startEtcd(lab: LabState): void {
  for (const m of etcdMembers(lab)) startEtcdMember(lab, m);
}

/** Waits until the cluster answers a read through its client API. */
export async function waitEtcd(lab: LabState, deadline: number): Promise<void> {
  for (;;) {
    for (const url of etcdEndpoints(lab)) {
      try {
        const r = await fetch(`${url}/health`);
        if (r.ok && ((await r.json()) as { health?: string }).health === "true") return;
      } catch {
        // not up yet
      }
    }
    if (Date.now() > deadline) throw new Error(`the lab's etcd did not become healthy: see ${hostDir(lab, "etcd1")}/etcd.log`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
