// What `service create|update|scale|rollback` shows while a service converges, as docker's
// --detach=false does: a pure model fed with what each poll of the Control API saw (service, its
// tasks, the nodes that are up, the time) that answers with the lines to show and, at the end,
// the verdict. Drawing the lines is display.ts's job; polling is converge.ts's.
import { TaskState, UpdateState, type Service, type Task, type TaskSpec, type UpdateStatus } from "../../proto/gen/cluster.js";
import { shortId, taskStateWord } from "./words.js";

/** One line of the display, keyed by `id` ("overall progress", "3/6", a node id, "verify"). */
export interface ProgressLine {
  id: string;
  text: string;
  /** Drawn as a bar on a terminal: how far along the task is, out of BAR_STEPS. */
  step?: number;
}

export type Verdict = { ok: true } | { ok: false; error: string };

export interface Frame {
  /** Every line so far, in the order each first appeared. */
  lines: ProgressLine[];
  end?: Verdict;
}

/** Steps of a task's way to running, as docker numbers them (it also counts an "allocated" step). */
const STEP: Partial<Record<TaskState, number>> = {
  [TaskState.TASK_STATE_NEW]: 1,
  [TaskState.TASK_STATE_PENDING]: 3,
  [TaskState.TASK_STATE_ASSIGNED]: 4,
  [TaskState.TASK_STATE_ACCEPTED]: 5,
  [TaskState.TASK_STATE_PREPARING]: 6,
  [TaskState.TASK_STATE_READY]: 7,
  [TaskState.TASK_STATE_STARTING]: 8,
  [TaskState.TASK_STATE_RUNNING]: 9,
  [TaskState.TASK_STATE_COMPLETE]: 10,
  [TaskState.TASK_STATE_SHUTDOWN]: 11,
  [TaskState.TASK_STATE_FAILED]: 12,
  [TaskState.TASK_STATE_REJECTED]: 13,
};
export const BAR_STEPS = 9;
/** Slots or nodes past this many get only the overall line. */
export const MAX_BARS = 20;
/** Docker pads state words to its longest ("preparing", "allocated"). */
const STATE_WIDTH = 9;
const DEFAULT_MONITOR_MS = 5000;

const step = (s: TaskState) => STEP[s] ?? 0;
const ended = (s: TaskState) => step(s) > STEP[TaskState.TASK_STATE_RUNNING]!;

/** A task's error, on one line of at most 75 characters (docker's limit, for narrow terminals). */
function oneLineError(err: string): string {
  const s = err.replace(/\n/g, " ");
  return s.length > 75 ? s.slice(0, 74) + "…" : s;
}

const sameTaskSpec = (a: TaskSpec | undefined, b: TaskSpec | undefined) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Made from the service's current spec. A task of an older version counts while it is meant to
 * run and its spec is the current one (a scale leaves tasks current; a rollback makes older ones
 * current again); history of the same spec does not.
 */
export function upToDate(t: Task, s: Service): boolean {
  if (t.specVersion === s.specVersion) return true;
  return t.desiredState <= TaskState.TASK_STATE_RUNNING && sameTaskSpec(t.spec, s.spec?.task);
}

/**
 * Of several tasks in one slot (a restart, a start-first update), the one to show: the lowest
 * desired state, then the lowest observed state.
 */
function pick(tasks: readonly Task[], key: (t: Task) => string, activeNodes: ReadonlySet<string>, skipDownNodes: boolean): Map<string, Task> {
  const out = new Map<string, Task>();
  for (const t of tasks) {
    const state = t.status?.state ?? TaskState.TASK_STATE_NEW;
    if (step(t.desiredState) === 0 || step(state) === 0) continue;
    const had = out.get(key(t));
    if (had) {
      if (step(had.desiredState) < step(t.desiredState)) continue;
      if (step(had.desiredState) === step(t.desiredState) && step(had.status?.state ?? 0) <= step(state)) continue;
    }
    if (skipDownNodes && t.nodeId && !activeNodes.has(t.nodeId)) continue;
    out.set(key(t), t);
  }
  return out;
}

/** "service update paused: 2 new task(s) failed", without the managers' own "update paused: " repeated. */
function failed(what: string, message: string): Verdict {
  const reason = message.replace(/^(update paused|rollback paused|rollback started|rollback completed)(: |$)/, "");
  return { ok: false, error: reason ? `${what}: ${reason}` : what };
}

const sameStatus = (a: UpdateStatus | undefined, b: UpdateStatus | undefined) =>
  !!a && !!b && a.state === b.state && a.startedAt === b.startedAt && a.completedAt === b.completedAt && a.message === b.message;

export interface ConvergenceOptions {
  /** `service rollback`: a completed rollback is the goal, not a failure. */
  rollback?: boolean;
  /** The service's update status before this command changed it: left over from an earlier update, so not this one's. */
  before?: UpdateStatus;
}

export class Convergence {
  private readonly lines = new Map<string, ProgressLine>();
  /** Replicated: slot → its place in the display (1..N), kept as first seen so bars stay in order. */
  private readonly slotMap = new Map<number, number>();
  private initialized = false;
  /** Every task ran once: the task lines stop changing, as docker's do. */
  private done = false;
  private converged = false;
  private convergedAt?: number;
  private rollingBack = false;
  private rollbackStart = "";
  private closing?: ProgressLine;

  constructor(private readonly o: ConvergenceOptions = {}) {}

  /** One poll: the service as read, all its tasks, the ids of nodes not down, the time (unix ms). */
  observe(service: Service, tasks: readonly Task[], activeNodes: ReadonlySet<string>, now: number): Frame {
    const monitor = service.spec?.update?.monitorMs || DEFAULT_MONITOR_MS;
    const verdict = this.followUpdate(service.updateStatus);
    // An update being rolled back has failed, however stable the old tasks look: wait for the
    // managers' ROLLBACK_COMPLETED (an error) rather than call it converged (a rollback's own
    // monitor period can outlast the client's, on a loaded machine it did).
    const failing = this.rollingBack && !this.o.rollback;
    if (!verdict && !failing && this.converged && this.convergedAt !== undefined && now - this.convergedAt >= monitor) return this.frame({ ok: true });

    const current = tasks.filter((t) => upToDate(t, service));
    this.converged = service.spec?.mode?.$case === "global" ? this.global(current, activeNodes) : this.replicated(service, current, activeNodes);
    if (verdict) return this.frame(verdict); // the tasks' last states (and errors), then the verdict
    if (this.converged) {
      this.convergedAt ??= now;
      const wait = monitor - (now - this.convergedAt);
      if (wait >= 0) this.set("verify", `Waiting ${Math.floor(wait / 1000) + 1} seconds to verify that tasks are stable...`);
    } else {
      if (this.convergedAt !== undefined) this.set("verify", "Detected task failure");
      this.convergedAt = undefined;
    }
    return this.frame();
  }

  /** The update status's say: a verdict when the update paused or rolled back, else nothing. */
  private followUpdate(us: UpdateStatus | undefined): Verdict | undefined {
    if (!us || sameStatus(us, this.o.before)) return undefined;
    switch (us.state) {
      case UpdateState.UPDATE_STATE_UPDATING:
        this.rollingBack = false;
        return undefined;
      case UpdateState.UPDATE_STATE_COMPLETED:
        // The managers watched every new task for the monitor period already.
        return { ok: true };
      case UpdateState.UPDATE_STATE_PAUSED:
        return failed("service update paused", us.message);
      case UpdateState.UPDATE_STATE_ROLLBACK_STARTED:
        if (!this.rollingBack && us.message) this.set("rollback", us.message);
        this.rollbackStart ||= us.message;
        this.rollingBack = true;
        return undefined;
      case UpdateState.UPDATE_STATE_ROLLBACK_PAUSED:
        return failed("service rollback paused", us.message);
      case UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED:
        if (!this.o.rollback) return failed("service rolled back", this.rollbackStart || us.message);
        if (!this.converged) this.closing = { id: "rollback", text: us.message };
        this.rollingBack = true;
        return undefined;
    }
    return undefined;
  }

  private frame(end?: Verdict): Frame {
    if (end?.ok) {
      this.set("verify", "Service converged");
      if (this.closing) this.set(this.closing.id, this.closing.text);
    }
    return { lines: [...this.lines.values()].map((l) => ({ ...l })), end };
  }

  private set(id: string, text: string, stepNo?: number): void {
    let line = this.lines.get(id);
    if (!line) this.lines.set(id, (line = { id, text }));
    line.text = text;
    if (stepNo === undefined) delete line.step;
    else line.step = stepNo;
  }

  private overall(running: number, total: number): void {
    this.set("overall progress", this.rollingBack ? `rolling back update: ${running} out of ${total} tasks` : `${running} out of ${total} tasks`);
  }

  private taskLine(id: string, t: Task, total: number): void {
    if (this.done || total > MAX_BARS) return;
    const state = t.status?.state ?? TaskState.TASK_STATE_NEW;
    if (t.status?.err) this.set(id, oneLineError(t.status.err));
    else if (!ended(t.desiredState) && !ended(state)) this.set(id, taskStateWord(state).padEnd(STATE_WIDTH), step(state));
  }

  private stillDone(tasks: Iterable<Task>): void {
    if (this.done && [...tasks].some((t) => t.status?.state !== TaskState.TASK_STATE_RUNNING)) this.done = false;
  }

  private replicated(service: Service, tasks: readonly Task[], activeNodes: ReadonlySet<string>): boolean {
    const replicas = service.spec?.mode?.$case === "replicated" ? service.spec.mode.value.replicas : 0;
    if (!this.initialized) {
      this.overall(0, replicas);
      if (replicas <= MAX_BARS) for (let i = 1; i <= replicas; i++) this.set(`${i}/${replicas}`, " ");
      this.initialized = true;
    }
    const bySlot = pick(tasks, (t) => String(t.slot), activeNodes, true);
    this.stillDone(bySlot.values());
    let running = 0;
    for (const t of [...bySlot.values()].sort((a, b) => a.slot - b.slot)) {
      let shown = this.slotMap.get(t.slot);
      if (shown === undefined) this.slotMap.set(t.slot, (shown = this.slotMap.size + 1));
      if (!ended(t.desiredState) && t.status?.state === TaskState.TASK_STATE_RUNNING) running++;
      if (shown <= replicas) this.taskLine(`${shown}/${replicas}`, t, replicas);
    }
    return this.tally(running, replicas);
  }

  private global(tasks: readonly Task[], activeNodes: ReadonlySet<string>): boolean {
    // The orchestrator makes every eligible node's task at once: the up-to-date tasks name the nodes.
    const byNode = pick(tasks, (t) => t.nodeId, activeNodes, false);
    const nodes = byNode.size;
    if (!this.initialized) {
      if (nodes === 0) {
        this.set("overall progress", "waiting for new tasks");
        return false;
      }
      this.overall(0, nodes);
      this.initialized = true;
    }
    this.stillDone(byNode.values());
    let running = 0;
    for (const t of [...byNode.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1))) {
      if (!activeNodes.has(t.nodeId)) continue;
      if (!ended(t.desiredState) && t.status?.state === TaskState.TASK_STATE_RUNNING) running++;
      this.taskLine(shortId(t.nodeId), t, nodes);
    }
    return this.tally(running, nodes);
  }

  private tally(running: number, total: number): boolean {
    if (!this.done) {
      this.overall(running, total);
      if (running === total) this.done = true;
    }
    return running === total;
  }
}
