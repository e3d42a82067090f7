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

/** Makes the hosts one cluster. Nothing to do until `shoal swarm init/join` exists. */
export async function bootstrapCluster(_lab: LabState): Promise<void> {}
