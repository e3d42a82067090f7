// What the cluster benches need of an orchestrator, the same for Shoal and Docker Swarm, so
// one measurement runs unchanged on both: a CLI to act with, and a task list to poll. Time is
// always "CLI started → the poller sees the tasks so": neither side's own wait (`--detach=false`)
// is used, and both are polled alike.

/** One task as either orchestrator lists it (states in Swarm's lowercase words). */
export interface TaskView {
  id: string;
  slot: number;
  node: string;
  state: string;
  desired: string;
  image: string;
  pid: number;
  containerId: string;
  /** Unix ms: when the task was made, and when it entered its current state. */
  createdAt: number;
  stateAt: number;
}

export interface CliRun {
  code: number;
  out: string;
  err: string;
  /** Wall time of the CLI process, spawn to exit. */
  ms: number;
}

export interface ServiceOptions {
  image: string;
  /** Keep every task on the first (manager) node: a one-node figure on a two-node cluster. */
  onManager?: boolean;
  /** Swarm's --restart-delay 0 (Shoal restarts in place at once whatever the delay). */
  restartDelay0?: boolean;
}

export interface Peer {
  readonly name: "shoal" | "swarm";
  /** How many nodes the cluster has. */
  readonly nodes: number;
  create(service: string, replicas: number, o: ServiceOptions): Promise<CliRun>;
  scale(service: string, replicas: number): Promise<CliRun>;
  update(service: string, image: string, parallelism: number): Promise<CliRun>;
  remove(service: string): Promise<CliRun>;
  tasks(service: string): Promise<TaskView[]>;
  /** When the service object was written (Unix ms), from the orchestrator's own record. */
  serviceCreatedAt(service: string): Promise<number>;
  /** When the engine made a container and started its process (Unix ms), on the node running it. */
  containerTimes(node: string, containerId: string): Promise<{ created: number; started: number }>;
  /** Containers left on all nodes (0 once a removed service has fully stopped). */
  containers(): Promise<number>;
  /** CPU ms used so far by the peer's own processes (daemons; containers excluded), by role. */
  cpuMs(): Record<string, number>;
}

import { spawn } from "node:child_process";
import { monoUs } from "./cpuprofile.js";

/** When the tasks of a figure reached a state: the first, median and last of them (ms after t0). */
export interface Row {
  state: string;
  first: number;
  p50: number;
  last: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const median = (xs: number[]): number => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);
export const round = (x: number, d = 2): number | null => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);

/** A container that exits at once on SIGTERM (sh as PID 1 ignores it unless trapped). */
export const PROMPT_STOP = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000000 & wait"];

export const isUp = (t: TaskView): boolean => t.state === "running" && t.desired === "running";

/** The order a task's state moves through, as both orchestrators name them. */
export const STATES = ["new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"] as const;

/** Nothing moved for a long time: the orchestrator is stuck, waiting longer will not help. */
export class StallError extends Error {}

/** "busybox:1 running/shutdown ×2, …": what a stuck service's tasks look like. */
export function census(ts: TaskView[]): string {
  const m = new Map<string, number>();
  for (const t of ts) m.set(`${t.image} ${t.state}/${t.desired}`, (m.get(`${t.image} ${t.state}/${t.desired}`) ?? 0) + 1);
  return [...m].map(([k, n]) => `${k} ×${n}`).join(", ");
}

/**
 * Polls a service's tasks from `t0` until `done` holds, while recording, per task, when each
 * state was entered (the orchestrator's own timestamp of the state, first seen by a poll).
 */
export class Watch {
  /** task id → state → Unix ms it entered that state. */
  readonly seen = new Map<string, Map<string, number>>();
  readonly created = new Map<string, number>();
  polls = 0;

  constructor(
    readonly peer: Peer,
    readonly service: string,
    readonly pollMs = 25,
    readonly stallMs = 60_000,
  ) {}

  /** Resolves to the Unix ms at which a poll first found `done` true, and what it found. */
  async until(done: (ts: TaskView[]) => boolean, timeoutMs = 300_000, what = "converged", failed: () => string | undefined = () => undefined): Promise<{ at: number; tasks: TaskView[] }> {
    const deadline = Date.now() + timeoutMs;
    let lastErr = "";
    let sig = "";
    let sigAt = Date.now();
    for (;;) {
      const why = failed();
      if (why) throw new Error(why);
      try {
        const ts = await this.peer.tasks(this.service);
        this.polls++;
        const at = Date.now();
        for (const t of ts) this.note(t);
        if (done(ts)) return { at, tasks: ts };
        const now = ts.map((t) => `${t.id}:${t.state}:${t.desired}`).sort().join();
        if (now !== sig) [sig, sigAt] = [now, at];
        else if (at - sigAt > this.stallMs) throw new StallError(`${this.peer.name} ${this.service}: stalled, no task changed for ${this.stallMs / 1000} s; tasks by image/state/desired: ${census(ts)}`);
      } catch (e) {
        if (e instanceof StallError) throw e;
        lastErr = (e as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`${this.peer.name} ${this.service}: not ${what} after ${timeoutMs} ms${lastErr ? ` (last error: ${lastErr})` : ""}`);
      await sleep(this.pollMs);
    }
  }

  private note(t: TaskView): void {
    if (!this.created.has(t.id)) this.created.set(t.id, t.createdAt);
    let m = this.seen.get(t.id);
    if (!m) this.seen.set(t.id, (m = new Map()));
    if (!m.has(t.state) && t.stateAt) m.set(t.state, t.stateAt);
  }

  /**
   * For the given tasks, how long after `t0` each had reached each state: a state a poll never
   * saw counts as reached when the next state seen was entered. Gives the median and the last.
   */
  timeline(t0: number, ids: string[]): Row[] {
    const rows: Row[] = [];
    const created = ids.map((id) => (this.created.get(id) ?? NaN) - t0);
    rows.push({ state: "created", first: Math.min(...created), p50: median(created), last: Math.max(...created) });
    for (const [i, s] of STATES.entries()) {
      const at = ids.map((id) => {
        const m = this.seen.get(id);
        if (!m) return NaN;
        const later = STATES.slice(i).map((x) => m.get(x)).filter((x): x is number => x !== undefined);
        return later.length ? Math.min(...later) - t0 : NaN;
      });
      if (at.some((x) => !Number.isFinite(x))) continue;
      rows.push({ state: s, first: Math.min(...at), p50: median(at), last: Math.max(...at) });
    }
    return rows;
  }
}

/** Waits (untimed) until a service's tasks are so: the start of a figure. */
export async function settle(peer: Peer, service: string, done: (ts: TaskView[]) => boolean): Promise<void> {
  await new Watch(peer, service).until(done);
}

/** `count` running tasks (desired running), and, when given, all of `image`. */
export const runningAll = (count: number, image?: string) => (ts: TaskView[]): boolean => {
  const up = ts.filter(isUp);
  return up.length === count && (!image || up.every((t) => t.image === image)) && (!image || !ts.some((t) => t.state === "running" && t.image !== image));
};

/** Waits until a removed service's containers are gone on every node (the next figure starts clean). */
export async function quiesce(peer: Peer, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await peer.containers()) > 0) {
    if (Date.now() > deadline) throw new Error(`${peer.name}: containers still there ${timeoutMs} ms after their service was removed`);
    await sleep(100);
  }
}

/** Runs a CLI to its end, timing it (spawn to exit). */
export function runCli(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(file, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d));
    p.stderr.on("data", (d: Buffer) => (err += d));
    p.on("error", (e) => (err += e.message));
    p.on("close", (code) => resolve({ code: code ?? 137, out, err, ms: performance.now() - t0 }));
  });
}

export function mustOk(r: CliRun, what: string): CliRun {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${(r.err || r.out).trim().split("\n")[0]}`);
  return r;
}

/** Load average now (1 min), as the figures are read on a shared machine. */
export async function loadAvg(): Promise<number> {
  const { loadavg } = await import("node:os");
  return Number(loadavg()[0].toFixed(2));
}

/** Prints a timeline as one line per state: "+p50 / +last ms". */
export function showTimeline(label: string, rows: Row[], extra: Record<string, number> = {}): void {
  const parts = rows.map((r) => `${r.state} ${r.first.toFixed(0)}/${r.p50.toFixed(0)}/${r.last.toFixed(0)}`);
  const more = Object.entries(extra).map(([k, v]) => `${k} ${v.toFixed(0)}`);
  console.log(`  ${label} (ms after CLI start, first/median/last task): ${[...more, ...parts].join(", ")}`);
}

export interface Figure {
  /** When the CLI started: Unix ms, and on the monotonic clock of CPU profiles (µs). */
  t0: number;
  t0Mono: number;
  /** CLI started → a poll saw it done. */
  ms: number;
  /** The CLI process alone (spawn to exit). */
  cliMs: number;
  /** CLI started → the service object's own creation time (create only). */
  serviceMs?: number;
  /** CPU ms the peer's daemons used meanwhile, by node. */
  cpu: Record<string, number>;
  rows: Row[];
  tasks: TaskView[];
}

/**
 * Runs `act` (a CLI call) and polls the service's tasks at the same time until `done`; the
 * timeline covers the tasks up at the end that were made after the CLI started.
 */
export async function measure(peer: Peer, service: string, act: () => Promise<CliRun>, done: (ts: TaskView[]) => boolean, o: { pollMs?: number; create?: boolean; timeoutMs?: number } = {}): Promise<Figure> {
  const w = new Watch(peer, service, o.pollMs ?? 25);
  const cpu0 = peer.cpuMs();
  const t0Mono = monoUs();
  const t0 = Date.now();
  let failure: string | undefined;
  const cli = act().then((r) => {
    if (r.code !== 0) failure = `${peer.name} ${service}: the CLI failed (exit ${r.code}): ${(r.err || r.out).trim().split("\n")[0]}`;
    return r;
  });
  const end = await w.until(done, o.timeoutMs, "converged", () => failure);
  const run = mustOk(await cli, `${peer.name} ${service}`);
  const cpu1 = peer.cpuMs();
  const freshTasks = end.tasks.filter((t) => isUp(t) && t.createdAt >= t0 - 5);
  const fresh = freshTasks.map((t) => t.id);
  const engine = await Promise.all(freshTasks.map((t) => peer.containerTimes(t.node, t.containerId)));
  const rows = w.timeline(t0, fresh);
  if (engine.length) {
    const created = engine.map((e) => e.created - t0);
    const started = engine.map((e) => e.started - t0);
    rows.push({ state: "engine_created", first: Math.min(...created), p50: median(created), last: Math.max(...created) });
    rows.push({ state: "engine_started", first: Math.min(...started), p50: median(started), last: Math.max(...started) });
  }
  return {
    t0,
    t0Mono,
    ms: end.at - t0,
    cliMs: run.ms,
    serviceMs: o.create ? (await peer.serviceCreatedAt(service)) - t0 : undefined,
    cpu: Object.fromEntries(Object.entries(cpu1).map(([k, v]) => [k, v - (cpu0[k] ?? 0)])),
    rows,
    tasks: end.tasks,
  };
}

export function showFigure(peer: Peer, what: string, f: Figure): void {
  const cpu = Object.entries(f.cpu).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ");
  console.log(`${peer.name.padEnd(5)} ${what}: ${(f.ms / 1000).toFixed(2)} s (CLI ${f.cliMs.toFixed(0)} ms; daemons' CPU ms: ${cpu})`);
  showTimeline("timeline", f.rows, { cli_exit: f.cliMs, ...(f.serviceMs !== undefined ? { service_proposed: f.serviceMs } : {}) });
}

/** Ctrl-C or SIGTERM during a bench still takes both clusters down; returns the unhook. */
export function cleanupOnSignal(fn: () => Promise<void>): () => void {
  const h = () => void fn().finally(() => process.exit(130));
  process.once("SIGINT", h);
  process.once("SIGTERM", h);
  return () => {
    process.off("SIGINT", h);
    process.off("SIGTERM", h);
  };
}
