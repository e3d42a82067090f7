// When is a lab host "up": today, when its daemon answers `version` on its socket. Cluster mode
// will add its own step in bootstrapCluster (init on m1, join the others).
import { connect as netConnect } from "node:net";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { processAlive, socketFromOutside } from "./host.js";
import { hostDir } from "./state.js";
import type { LabHost, LabState } from "./state.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(path);
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

async function answersVersion(path: string): Promise<boolean> {
  try {
    const { connect, call } = await import("../cli/client.js");
    const c = connect(`unix://${path}`);
    try {
      await call(c, c.version, {});
      return true;
    } finally {
      c.close();
    }
  } catch {
    return false;
  }
}

/** Waits until the host's daemon answers; `probe: "socket"` only waits for the socket to accept. */
export async function waitReady(lab: LabState, host: LabHost, deadline: number, probe: "version" | "socket" = "version"): Promise<void> {
  const path = socketFromOutside(host.pid!);
  const log = join(hostDir(lab, host.name), "daemon.log");
  while (!(await accepts(path))) {
    if (!processAlive(host.pid!)) throw new Error(`${host.name}: the daemon exited: ${lastLine(log)} (${log})`);
    if (Date.now() > deadline) throw new Error(`${host.name}: the daemon did not open ${path}: see ${log}`);
    await sleep(25);
  }
  while (probe === "version" && !(await answersVersion(path))) {
    if (Date.now() > deadline) throw new Error(`${host.name}: the daemon does not answer version on ${path}`);
    await sleep(50);
  }
}

function lastLine(file: string): string {
  const lines = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
  return lines.at(-1) || "no output";
}

/** gRPC's status code 14 (@grpc/grpc-js is loaded only when a host is called). */
const GRPC_UNAVAILABLE = 14;

/** Calls a local Swarm or Control method on a host's daemon, from outside the host. */
async function onHost<Res>(host: LabHost, service: "swarm" | "control", method: string, req: unknown): Promise<Res> {
  const { SwarmClient, ControlClient } = await import("../proto/gen/swarm.js");
  const { credentials } = await import("@grpc/grpc-js");
  const addr = `unix://${socketFromOutside(host.pid!)}`;
  const c = service === "swarm" ? new SwarmClient(addr, credentials.createInsecure()) : new ControlClient(addr, credentials.createInsecure());
  try {
    return await new Promise<Res>((resolve, reject) =>
      (c as unknown as Record<string, (r: unknown, cb: (e: Error | null, r: Res) => void) => void>)[method].call(c, req, (e, r) => (e ? reject(e) : resolve(r))),
    );
  } finally {
    c.close();
  }
}

/**
 * Makes the hosts one swarm, as an operator would: init on the first manager, the other managers
 * join one at a time (each Raft membership change waits for the one before), the workers all at
 * once; then waits until every node is Ready.
 */
export async function bootstrapCluster(lab: LabState, deadline = Date.now() + 60_000, store: { store?: string; etcd?: { endpoints: string[]; prefix: string } } = {}): Promise<void> {
  const [first, ...rest] = lab.hosts;
  const where = `${first.address}:2377`;
  const { InitRequest, JoinRequest } = await import("../proto/gen/swarm.js");
  const init = await onHost<{ workerToken: string; managerToken: string }>(first, "swarm", "init", InitRequest.fromPartial({ advertiseAddr: where, ...store }));
  // A moment without a leader (a membership change on a loaded machine) is answered UNAVAILABLE
  // "try again": so the lab tries again, as an operator would, until the deadline.
  const again = async <T>(call: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await call();
      } catch (err) {
        if ((err as { code?: number }).code !== GRPC_UNAVAILABLE || Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
  };
  const join = (h: LabHost, token: string) => again(() => onHost(h, "swarm", "join", JoinRequest.fromPartial({ remoteAddr: where, token, advertiseAddr: `${h.address}:2377` })));
  for (const h of rest.filter((x) => x.role === "manager")) await join(h, init.managerToken);
  await Promise.all(rest.filter((x) => x.role === "worker").map((h) => join(h, init.workerToken)));
  for (;;) {
    const { nodes } = await again(() => onHost<{ nodes: { status?: { state: number } }[] }>(first, "control", "listNodes", {}));
    if (nodes.length === lab.hosts.length && nodes.every((n) => n.status?.state === 2)) return;
    if (Date.now() > deadline) throw new Error(`the lab's nodes are not all Ready after ${lab.hosts.length} joins: see shoal lab exec ${first.name} -- shoal node ls`);
    await sleep(50);
  }
}
