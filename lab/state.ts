// A lab's state file: the host table and every resource `up` made or was about to make. It is
// written (atomically) before each resource is created, so `down` can undo a crashed `up`.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LAB_ROOT } from "./names.js";

export type Role = "manager" | "worker";

export interface LabHost {
  name: string; // also the netns name and the hostname
  role: Role;
  address: string;
  veth: string;
  pid?: number; // the host's daemon, while started
}

export interface Partition {
  hosts: string[];
  from: string[];
}

export interface LabState {
  name: string;
  dir: string;
  bridge: string;
  prefix: string; // "10.a.b": the lab's /24
  gateway: string; // the bridge's address, where the registry listens
  registry: string; // "gateway:port"
  nftTable: string;
  freezer: string; // the lab's freezer cgroup: one child per host and one for the registry
  hosts: LabHost[];
  partitions: Partition[];
  /** "etcd": the swarm keeps its state in the lab's etcd cluster (lab/etcd.ts). */
  store?: "etcd";
}

export const labDir = (name: string): string => join(LAB_ROOT, name);
export const hostDir = (lab: LabState, host: string): string => join(lab.dir, "hosts", host);

export function saveLab(lab: LabState): void {
  mkdirSync(lab.dir, { recursive: true });
  const tmp = join(lab.dir, "state.json.tmp");
  writeFileSync(tmp, JSON.stringify(lab, null, 2) + "\n");
  renameSync(tmp, join(lab.dir, "state.json"));
}

export function loadLab(name: string): LabState | undefined {
  const file = join(labDir(name), "state.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as LabState) : undefined;
}

export function mustLoadLab(name: string): LabState {
  const lab = loadLab(name);
  if (!lab) throw new Error(`no lab named "${name}": see shoal lab ls, or shoal lab up --name ${name}`);
  return lab;
}

export function listLabs(): LabState[] {
  if (!existsSync(LAB_ROOT)) return [];
  return readdirSync(LAB_ROOT).flatMap((n) => loadLab(n) ?? []);
}

export function findHost(lab: LabState, host: string): LabHost {
  const h = lab.hosts.find((x) => x.name === host || x.name === `${lab.name}-${host}`);
  if (!h) throw new Error(`lab "${lab.name}" has no host "${host}": hosts are ${lab.hosts.map((x) => x.name).join(", ")}`);
  return h;
}
