// The agent's worker: makes this node's engine run what the managers assigned it. Each task is
// driven forward on its own (accept, pull, create, start), its container watched, and every change
// of state reported. A crashed container is restarted in place by the engine under the task's
// restart policy, with or without a manager to talk to; the task stays the same task. A task on
// overlay networks is joined to them as its container starts (networks.ts), and taken out of DNS
// and load balancing a moment before its container is stopped.
import { type NodeNetwork, type Task, TaskState, type TaskStatus } from "../../proto/gen/cluster.js";
import type { TaskStatusUpdate } from "../../proto/gen/swarm.js";
import type { Assignments } from "../session/session.js";
import type { ImagesPort } from "../engine/api/images-port.js";
import type { ContainerEngine } from "../engine/containers/engine.js";
import type { ImagePort } from "../engine/containers/launch.js";
import type { ContainerRecord } from "../engine/containers/record.js";
import type { ContainerDefaults } from "../engine/image/image.js";
import { containerConfigOf, containerName, endedState } from "./container-spec.js";
import { HealthMonitor, healthOf, type HealthSpec, type RunCheck } from "./health.js";
import { TaskLedger } from "./ledger.js";
import { TaskNetworks } from "./networks.js";

export interface WorkerDeps {
  nodeId: string;
  engine: ContainerEngine;
  images: ImagePort & Pick<ImagesPort, "pull">;
  /** Where the worker keeps its task ↔ container ledger. */
  stateDir: string;
  report: (updates: TaskStatusUpdate[]) => void;
  log: (line: string) => void;
  /** This node's cluster address (host:port); its host is the local end of overlay tunnels. None: no overlay networks. */
  addr?: string;
  /** How long a task taken out of DNS and load balancing keeps running before it is stopped, for every node to hear of it. */
  drainMs?: number;
}

interface Driven {
  /** Undefined until the managers name the task (a container known from the ledger at start). */
  task?: Task;
  assigned: boolean;
  status?: TaskStatus;
  containerId?: string;
  running: boolean;
  again: boolean;
  /** The managers asked it to stop: its exit is a shutdown, not a failure. */
  stopAsked: boolean;
  /** The task's health check (null: none), found once its image is known. */
  health?: HealthSpec | null;
  /** Watching the container's current process (its pid), if it has a health check. */
  monitor?: { pid: number; m: HealthMonitor };
}

const RUNNING = TaskState.TASK_STATE_RUNNING;
/** Covers a push of the managers reaching every node and being applied there, and requests already under way. */
export const DEFAULT_DRAIN_MS = 1000;
const isEnded = (s: TaskState | undefined) => (s ?? 0) > RUNNING;

export class Worker {
  private readonly tasks = new Map<string, Driven>();
  private readonly pulls = new Map<string, Promise<void>>();
  private readonly listeners = new Map<string, () => void>();
  private ledger!: TaskLedger;
  private net?: TaskNetworks;
  private stopped = false;
  /** The managers have named this node's tasks at least once since start. */
  private heard = false;

  constructor(private readonly d: WorkerDeps) {}

  /** Picks up the containers of tasks this node ran before the daemon restarted. */
  async start(): Promise<void> {
    this.ledger = new TaskLedger(this.d.stateDir);
    for (const [taskId, containerId] of this.ledger.entries()) {
      if (!this.container(containerId)) {
        this.ledger.delete(taskId);
        continue;
      }
      this.tasks.set(taskId, { assigned: false, containerId, running: false, again: false, stopAsked: false });
      this.listen(taskId, containerId);
    }
    if (this.d.addr) {
      this.net = await TaskNetworks.open({ addr: this.d.addr, stateDir: this.d.stateDir, taskOf: (id) => this.tasks.get(id)?.task, log: this.d.log });
      this.d.engine.setNetworkHook(this.net);
      // Containers that stopped while the daemon was away keep no network here.
      const live = this.ledger.entries().filter(([, c]) => ["running", "restarting"].includes(this.container(c)?.state.status ?? ""));
      await this.net?.retain(new Set(live.map(([taskId]) => taskId)));
    }
  }

  /** Every overlay network this node serves, as the managers last said; applied before the tasks that need them start. */
  networks(networks: NodeNetwork[]): void {
    if (!this.stopped) this.net?.apply(networks);
  }

  /**
   * What the managers want this node to run: the whole set on each new session (any task not in
   * it, including containers known only from the ledger, is no longer this node's), then changes.
   */
  assign(a: Assignments): void {
    if (this.stopped) return;
    this.heard = true;
    for (const t of a.tasks) {
      let d = this.tasks.get(t.id);
      if (!d) this.tasks.set(t.id, (d = { assigned: true, running: false, again: false, stopAsked: false }));
      d.task = t;
      d.assigned = true;
      // The managers may know more than this worker (an earlier session's reports): never go back.
      if (!d.status || (t.status && t.status.state > d.status.state)) d.status = t.status;
      this.kick(t.id);
    }
    const unassign = (id: string, d: Driven) => {
      d.assigned = false;
      this.kick(id);
    };
    if (a.full) {
      const named = new Set(a.tasks.map((t) => t.id));
      for (const [id, d] of this.tasks) if (!named.has(id) && (d.assigned || d.task === undefined)) unassign(id, d);
    }
    for (const id of a.removed) {
      const d = this.tasks.get(id);
      if (d?.assigned) unassign(id, d);
    }
  }

  /** Every status this worker knows, for a new session to send in full. */
  statuses(): TaskStatusUpdate[] {
    return [...this.tasks].filter(([, d]) => d.status && d.task).map(([taskId, d]) => ({ taskId, status: d.status }));
  }

  /** The container running a task here, if any (for task logs). */
  containerOf(taskId: string): ContainerRecord | undefined {
    const id = this.tasks.get(taskId)?.containerId;
    return id ? this.container(id) : undefined;
  }

  get engine(): ContainerEngine {
    return this.d.engine;
  }

  /** Daemon stopping: containers stay with their shims; the next start picks them up. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const d of this.tasks.values()) d.monitor?.m.stop();
    for (const off of this.listeners.values()) off();
    this.listeners.clear();
    if (this.net) this.d.engine.setNetworkHook(undefined);
    await this.net?.close().catch((e: Error) => this.d.log(`worker: overlay networks: ${e.message}`));
  }

  /** The node leaves the swarm: its tasks' containers go, as they do when a Swarm node leaves. */
  async leave(): Promise<void> {
    this.stopped = true;
    for (const d of this.tasks.values()) d.monitor?.m.stop();
    for (const [taskId, containerId] of this.ledger.entries()) {
      this.listeners.get(taskId)?.();
      await this.d.engine.remove(containerId, true).catch((e: Error) => this.d.log(`worker: removing container of task ${taskId}: ${e.message}`));
      this.ledger.delete(taskId);
    }
    this.tasks.clear();
    if (this.net) this.d.engine.setNetworkHook(undefined);
    await this.net?.destroy().catch((e: Error) => this.d.log(`worker: removing overlay networks: ${e.message}`));
  }

  private container(id: string): ContainerRecord | undefined {
    return this.d.engine.store.all().find((c) => c.id === id);
  }

  private listen(taskId: string, containerId: string): void {
    this.listeners.get(taskId)?.();
    const on = () => this.kick(taskId);
    this.d.engine.events.on(`state:${containerId}`, on);
    this.listeners.set(taskId, () => this.d.engine.events.off(`state:${containerId}`, on));
  }

  /** Drives one task; one step at a time per task, again if something changed meanwhile. */
  private kick(taskId: string): void {
    const d = this.tasks.get(taskId);
    if (!d || this.stopped) return;
    if (d.running) {
      d.again = true;
      return;
    }
    d.running = true;
    void (async () => {
      try {
        do {
          d.again = false;
          await this.step(taskId, d);
        } while (d.again && !this.stopped);
      } catch (err) {
        this.d.log(`worker: task ${taskId}: ${(err as Error).message}`);
      } finally {
        d.running = false;
      }
    })();
  }

  private async step(taskId: string, d: Driven): Promise<void> {
    const rec = d.containerId ? this.container(d.containerId) : undefined;
    if (!d.assigned) {
      // Known only from before a restart (its container restarted meanwhile): the managers say whether it stays.
      if (!this.heard) return;
      d.monitor?.m.stop();
      this.listeners.get(taskId)?.();
      this.listeners.delete(taskId);
      await this.net?.takeOut(taskId);
      if (rec) await this.d.engine.remove(rec.id, true);
      this.ledger.delete(taskId);
      this.tasks.delete(taskId);
      return;
    }
    const t = d.task!;
    if (t.desiredState > RUNNING) return this.shutDown(taskId, d, rec);
    if (isEnded(d.status?.state)) return; // ended: the managers decide what comes next
    if (!rec) {
      if (d.status && d.status.state >= TaskState.TASK_STATE_STARTING) {
        return this.set(d, TaskState.TASK_STATE_FAILED, "failed", { err: "task: its container is gone from this node" });
      }
      await this.prepare(taskId, d);
      return;
    }
    if (t.desiredState < RUNNING) return; // held at READY (a restart delay, a stop-first update)
    if (rec.state.status === "created") {
      this.set(d, TaskState.TASK_STATE_STARTING, "starting");
      try {
        await this.d.engine.start(rec.id);
      } catch (err) {
        return this.set(d, TaskState.TASK_STATE_FAILED, "failed", { err: `starting container: ${(err as Error).message}` });
      }
    }
    if (d.health === undefined) d.health = await this.healthSpec(t);
    await this.observe(taskId, d, this.container(rec.id) ?? rec);
  }

  private async healthSpec(t: Task): Promise<HealthSpec | null> {
    let image: ContainerDefaults | undefined;
    try {
      image = (await this.d.images.resolve(t.spec?.container?.image ?? "")).config as ContainerDefaults;
    } catch {
      /* the image is gone (removed by hand): the task's own check still applies */
    }
    return healthOf(t, image) ?? null;
  }

  /** Watches the container's process with the health check, anew when it restarted in place. */
  private monitorHealth(taskId: string, d: Driven, rec: ContainerRecord): HealthMonitor | undefined {
    if (!d.health) return undefined;
    if (d.monitor?.pid === rec.state.pid) return d.monitor.m;
    d.monitor?.m.stop();
    const run: RunCheck = (cmd, timeoutMs) => runCheck(this.d.engine, rec.id, cmd, timeoutMs);
    const m = new HealthMonitor(d.health, run, () => this.kick(taskId));
    d.monitor = { pid: rec.state.pid, m };
    m.start();
    return m;
  }

  /** Accepted → preparing (image, container) → ready; a failure here rejects the task. */
  private async prepare(taskId: string, d: Driven): Promise<void> {
    const t = d.task!;
    if ((d.status?.state ?? 0) < TaskState.TASK_STATE_ACCEPTED) this.set(d, TaskState.TASK_STATE_ACCEPTED, "accepted");
    this.set(d, TaskState.TASK_STATE_PREPARING, "preparing");
    let rec: ContainerRecord;
    try {
      const config = containerConfigOf(t);
      await this.ensureImage(config.image);
      // A container made for this task before a crash, but not yet in the ledger, is reused.
      rec = this.d.engine.store.nameTaken(containerName(t)) ?? (await this.d.engine.create(containerName(t), config));
    } catch (err) {
      return this.set(d, TaskState.TASK_STATE_REJECTED, "rejected", { err: (err as Error).message.split("\n")[0] });
    }
    d.containerId = rec.id;
    this.ledger.set(taskId, rec.id);
    this.listen(taskId, rec.id);
    this.set(d, TaskState.TASK_STATE_READY, "ready", { containerId: rec.id });
    d.again = true;
  }

  /** What the container is doing now, as the task's status. */
  private async observe(taskId: string, d: Driven, rec: ContainerRecord): Promise<void> {
    const restarts = rec.restartCount;
    const cs = { containerId: rec.id, pid: rec.state.pid, exitCode: rec.state.exitCode, restarts };
    switch (rec.state.status) {
      case "running": {
        // With a health check the task counts as running (updated, in load balancing) only once healthy.
        const health = this.monitorHealth(taskId, d, rec)?.current;
        if (health?.health === "starting") return this.set(d, TaskState.TASK_STATE_STARTING, "starting: waiting for the health check", { cs });
        if (health?.health === "unhealthy") {
          // Replaced, as Swarm does: the container stops and the managers start a new task.
          d.stopAsked = true;
          await this.net?.takeOut(taskId);
          await this.d.engine.stop(rec.id).catch(() => undefined);
          const why = health.lastOutput ? `: ${health.lastOutput.split("\n")[0].slice(0, 200)}` : "";
          return this.set(d, TaskState.TASK_STATE_FAILED, "unhealthy", { err: `task: container is unhealthy${why}`, cs: { ...cs, pid: 0 } });
        }
        this.set(d, RUNNING, restarts > 0 ? `restarted in place (${restarts})` : health ? "started, healthy" : "started", { cs });
        break;
      }
      case "restarting":
        // Still this task: the engine brings the container back under the restart policy.
        this.set(d, RUNNING, `restarting after exit ${rec.state.exitCode}`, { cs });
        break;
      case "exited":
      case "dead": {
        const e = endedState(rec, d.stopAsked);
        this.set(d, e.state, e.message, { err: e.err, cs });
        break;
      }
    }
  }

  private async shutDown(taskId: string, d: Driven, rec: ContainerRecord | undefined): Promise<void> {
    d.monitor?.m.stop();
    if (isEnded(d.status?.state)) return;
    d.stopAsked = true;
    if (rec && (rec.state.status === "running" || rec.state.status === "restarting")) {
      // Out of DNS and load balancing first: no new connection reaches it while it stops.
      if ((await this.net?.takeOut(taskId)) && rec.state.status === "running") await sleep(this.d.drainMs ?? DEFAULT_DRAIN_MS);
      await this.d.engine.stop(rec.id);
    }
    const cs = rec ? { containerId: rec.id, pid: 0, exitCode: rec.state.exitCode, restarts: rec.restartCount } : undefined;
    this.set(d, TaskState.TASK_STATE_SHUTDOWN, "shutdown", { cs });
  }

  /** Pulls an image not yet on this node, once however many tasks want it at the same time. */
  private async ensureImage(ref: string): Promise<void> {
    try {
      await this.d.images.resolve(ref);
      return;
    } catch {
      /* not here yet: pull it */
    }
    let p = this.pulls.get(ref);
    if (!p) {
      p = this.d.images.pull(ref, () => undefined).finally(() => this.pulls.delete(ref));
      this.pulls.set(ref, p);
    }
    await p;
  }

  /** Records and reports a status; a state never moves back, the same state may carry news. */
  private set(d: Driven, state: TaskState, message: string, o: { err?: string; containerId?: string; cs?: TaskStatus["containerStatus"] } = {}): void {
    const cur = d.status;
    if (cur && state < cur.state) return;
    const cs = o.cs ?? (o.containerId ? { containerId: o.containerId, pid: 0, exitCode: 0, restarts: 0 } : cur?.containerStatus);
    if (cur && state === cur.state && message === cur.message && (o.err ?? "") === cur.err && sameContainer(cs, cur.containerStatus)) return;
    d.status = { state, timestamp: Date.now(), message, err: o.err ?? "", containerStatus: cs, portStatus: cur?.portStatus, pendingReason: "", restartNotBefore: 0 };
    this.d.report([{ taskId: d.task!.id, status: d.status }]);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sameContainer(a: TaskStatus["containerStatus"], b: TaskStatus["containerStatus"]): boolean {
  return a?.containerId === b?.containerId && a?.pid === b?.pid && a?.exitCode === b?.exitCode && a?.restarts === b?.restarts;
}

/** Runs a health check command inside the container; exit 0 within the timeout is a success. */
function runCheck(engine: ContainerEngine, containerId: string, cmd: string[], timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    let output = "";
    let child: ReturnType<ContainerEngine["exec"]>;
    try {
      child = engine.exec({ id: containerId, cmd, env: [], workingDir: "", user: "", stdin: false });
    } catch (e) {
      return resolve({ ok: false, output: (e as Error).message });
    }
    const keep = (b: Buffer) => (output = (output + b.toString()).slice(-4096));
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.stdin?.end();
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ ok: false, output: `health check timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    child.on("error", (e) => (clearTimeout(timer), resolve({ ok: false, output: e.message })));
    child.on("close", (code) => (clearTimeout(timer), resolve({ ok: code === 0, output: output.trim() })));
  });
}
