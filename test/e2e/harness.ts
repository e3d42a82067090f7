// A lab cluster for end-to-end tests: the real `shoal lab`, real daemons in their own network
// namespaces, the CLI run on a host as a user would (`shoal lab exec HOST -- shoal ...`), and the
// Control API read from outside to wait for convergence.
import { execFile, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { afterEach } from "vitest";
import { NodeState, TaskState, type Node, type Task } from "../../proto/gen/cluster.js";
import { ControlClient, type ListTasksResponse, type ServiceStatus } from "../../proto/gen/swarm.js";
import { HOST_SOCKET, socketFromOutside } from "../../lab/host.js";
import { labDown, labUp } from "../../lab/lab.js";
import { findHost, hostDir, mustLoadLab, type LabState } from "../../lab/state.js";

export const CLI = process.env.SHOAL_CLI ?? join(process.cwd(), "dist/cli/main.js");

/** Where a lab's swarm keeps its state; the control-plane suites run on both. */
export type Store = "raft" | "etcd";
export const STORES: Store[] = ["raft", "etcd"];

export interface Run {
  code: number;
  out: string;
  err: string;
}

/** Labs up in this file: a failed test prints the end of their daemons' logs (CI keeps no lab dir). */
const up = new Set<Cluster>();
afterEach((ctx) => {
  if (ctx.task.result?.state !== "fail") return;
  for (const c of up) {
    try {
      console.log(c.logTails());
    } catch (err) {
      console.log(`(no daemon logs of lab ${c.name}: ${(err as Error).message})`);
    }
  }
});

export class Cluster {
  constructor(readonly name: string) {
    up.add(this);
  }

  static async up(name: string, managers = 3, workers = 2, store: Store = "raft"): Promise<Cluster> {
    await labDown(name).catch(() => undefined);
    try {
      await labUp({ name, managers, workers, timeoutMs: 120_000, store });
    } catch (err) {
      // A lab that did not come up is nobody's to remove later: removed here (kept with SHOAL_E2E_KEEP).
      if (!process.env.SHOAL_E2E_KEEP) await labDown(name).catch(() => undefined);
      throw err;
    }
    return new Cluster(name);
  }

  async down(): Promise<void> {
    up.delete(this);
    // For a post-mortem of a failed run: the hosts' daemon logs survive in the lab dir.
    if (process.env.SHOAL_E2E_KEEP) return;
    await labDown(this.name);
  }

  /** The last lines of each host's daemon log, a session retry repeated only once in a row. */
  logTails(lines = 25): string {
    const out: string[] = [];
    for (const h of this.lab.hosts) {
      const file = join(hostDir(this.lab, h.name), "daemon.log");
      if (!existsSync(file)) continue;
      const kept: string[] = [];
      for (const l of readFileSync(file, "utf8").split("\n")) {
        const same = (x: string | undefined) => x?.replace(/^\S+ /, "") === l.replace(/^\S+ /, "");
        if (l && !same(kept.at(-1))) kept.push(l);
      }
      out.push(`--- ${h.name} (${file}), last ${lines} lines:`, ...kept.slice(-lines));
    }
    return out.join("\n");
  }

  get lab(): LabState {
    return mustLoadLab(this.name);
  }

  host(short: string): string {
    return `${this.name}-${short}`;
  }

  /** The command line (nsenter's arguments) that runs `shoal ARGS` on a lab host, as `shoal lab exec HOST -- shoal ARGS` does. */
  shoalArgs(short: string, ...args: string[]): string[] {
    const h = findHost(this.lab, this.host(short));
    if (!h.pid) throw new Error(`${h.name} is not running`);
    return ["--target", String(h.pid), "--net", "--mount", "--uts", "--", "env", `SHOAL_HOST=unix://${HOST_SOCKET}`, process.execPath, CLI, ...args];
  }

  /** `shoal ARGS` on a lab host. */
  shoal(short: string, ...args: string[]): Run {
    const r = spawnSync("nsenter", this.shoalArgs(short, ...args), { encoding: "utf8", timeout: 120_000 });
    return { code: r.status ?? 137, out: r.stdout ?? "", err: r.stderr ?? "" };
  }

  /** Like shoal(), without blocking this process: for a test that serves the host something meanwhile. */
  shoalAsync(short: string, ...args: string[]): Promise<Run> {
    const argv = this.shoalArgs(short, ...args);
    return new Promise((resolve) => {
      execFile("nsenter", argv, { encoding: "utf8", timeout: 120_000 }, (err, out, errOut) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 137) : 0, out, err: errOut }),
      );
    });
  }

  /** Like shoal(), but throws with the CLI's own error when it fails. */
  ok(short: string, ...args: string[]): string {
    const r = this.shoal(short, ...args);
    if (r.code !== 0) throw new Error(`shoal ${args.join(" ")} on ${short} failed (${r.code}): ${r.err.trim() || r.out.trim()}`);
    return r.out;
  }

  /** A Control API client on a host's socket, from outside the host. */
  private client(short: string): ControlClient {
    const h = findHost(this.lab, this.host(short));
    return new ControlClient(`unix://${socketFromOutside(h.pid!)}`, credentials.createInsecure());
  }

  private async call<Res>(short: string, method: string, req: unknown): Promise<Res> {
    const c = this.client(short);
    try {
      return await new Promise<Res>((resolve, reject) =>
        (c as unknown as Record<string, (r: unknown, o: object, cb: (e: Error | null, r: Res) => void) => void>)[method].call(c, req, { deadline: Date.now() + 10_000 }, (e, r) => (e ? reject(e) : resolve(r))),
      );
    } finally {
      c.close();
    }
  }

  async nodes(via = "m1"): Promise<Node[]> {
    return (await this.call<{ nodes: Node[] }>(via, "listNodes", {})).nodes;
  }

  async services(via = "m1"): Promise<ServiceStatus[]> {
    return (await this.call<{ services: ServiceStatus[] }>(via, "listServices", {})).services;
  }

  async tasks(service: string, via = "m1"): Promise<ListTasksResponse> {
    return this.call<ListTasksResponse>(via, "listTasks", { service, node: "" });
  }

  /** Running tasks of a service that are meant to run, by node hostname. */
  async running(service: string, via = "m1"): Promise<Map<string, number>> {
    const r = await this.tasks(service, via);
    const out = new Map<string, number>();
    for (const t of r.tasks.filter(isRunning)) {
      const host = r.nodeNames[t.nodeId] ?? t.nodeId;
      out.set(host, (out.get(host) ?? 0) + 1);
    }
    return out;
  }

  async nodeState(short: string, via = "m1"): Promise<NodeState | undefined> {
    return (await this.nodes(via)).find((n) => n.description?.hostname === this.host(short))?.status?.state;
  }
}

export const isRunning = (t: Task): boolean => t.status?.state === TaskState.TASK_STATE_RUNNING && t.desiredState === TaskState.TASK_STATE_RUNNING;

export const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** Polls `check` until it returns true (errors count as not yet), or fails with the last reason. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not so after ${timeoutMs} ms${last ? ` (last error: ${last})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A figure an acceptance line names ("marked down within 3 s"): measured here, printed and kept in
 * .bench/e2e-figures.jsonl for the report, never asserted (timings on a shared machine wobble).
 */
export function figure(name: string, value: number, unit = "ms"): void {
  const line = { name, value: Math.round(value), unit, at: new Date().toISOString() };
  console.log(`e2e figure: ${name} = ${line.value} ${unit}`);
  mkdirSync(join(process.cwd(), ".bench"), { recursive: true });
  appendFileSync(join(process.cwd(), ".bench", "e2e-figures.jsonl"), JSON.stringify(line) + "\n");
}
