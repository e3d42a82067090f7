// What a daemon remembers of its swarm membership across restarts: its identity, role and the
// managers to reach. Written atomically; gone when the node leaves.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeRole } from "../../proto/gen/cluster.js";

export interface SwarmState {
  nodeId: string;
  clusterId: string;
  role: NodeRole;
  /** 0 for workers. */
  raftId: number;
  /** This node's cluster address as others reach it (host:port). */
  addr: string;
  /** Where its cluster port listens. */
  listenAddr: string;
  managers: string[];
  /** The swarm keeps its state in etcd (`swarm init --store etcd`), not in the managers' Raft. */
  etcd?: { endpoints: string[]; prefix: string; tls?: { caFile?: string; certFile?: string; keyFile?: string } };
}

export const swarmDir = (dataRoot: string): string => join(dataRoot, "swarm");

export function loadSwarmState(dataRoot: string): SwarmState | undefined {
  const file = join(swarmDir(dataRoot), "state.json");
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as SwarmState;
}

export function saveSwarmState(dataRoot: string, s: SwarmState): void {
  const dir = swarmDir(dataRoot);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, "state.json.tmp");
  writeFileSync(tmp, JSON.stringify(s, null, 2), { mode: 0o600 });
  renameSync(tmp, join(dir, "state.json"));
}

export function removeSwarmState(dataRoot: string): void {
  rmSync(swarmDir(dataRoot), { recursive: true, force: true });
}

/** "10.0.0.1", "10.0.0.1:2377" → host:port with the swarm's default port. */
export function withPort(addr: string, defaultPort = 2377): string {
  const a = addr.trim();
  if (!a) return a;
  const m = /^(.*?)(?::(\d+))?$/.exec(a)!;
  const port = m[2] ? Number(m[2]) : defaultPort;
  if (!m[1] || port < 1 || port > 65535) throw new Error(`invalid address "${addr}": use HOST or HOST:PORT, e.g. 10.0.0.1:2377`);
  return `${m[1]}:${port}`;
}
