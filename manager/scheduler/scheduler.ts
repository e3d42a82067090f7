// The scheduler loop: watches the store, and when tasks wait or nodes change, runs one pure
// scheduling pass over a consistent read and writes the assignments back in a batch.
import { type Task, TaskState } from "../../proto/gen/cluster.js";
import { StoreLoop } from "../store/loop.js";
import { byTaskState, type ReadTx, type Store, type StoreEvent } from "../store/types.js";
import { portsOfTask } from "./filters.js";
import { buildNodeInfos, holdsResources } from "./nodeinfo.js";
import { type Decisions, schedule } from "./placement.js";

/** Tasks the scheduler should place: pending and still meant to run. */
export function pendingTasks(tx: ReadTx): Task[] {
  return tx.find("task", byTaskState(TaskState.TASK_STATE_PENDING)).filter((t) => t.desiredState <= TaskState.TASK_STATE_RUNNING);
}

/** One scheduling pass over a consistent read. Pure. */
export function decide(tx: ReadTx): Decisions {
  const pending = pendingTasks(tx);
  if (pending.length === 0) return { assigned: [], unplaced: [] };
  const infos = buildNodeInfos(tx.find("node"), tx.find("task"), portsOfTask);
  return schedule(infos, pending);
}

/**
 * Writes a pass's decisions. A task changed since the read (e.g. shut down meanwhile) is left
 * for the next pass; only reasons that changed are written.
 */
export async function commit(store: Store, d: Decisions, now: number): Promise<void> {
  await store.batch(async (b) => {
    for (const a of d.assigned) {
      await b.update((tx) => {
        const t = tx.get("task", a.taskId);
        if (!t || t.status?.state !== TaskState.TASK_STATE_PENDING || t.desiredState > TaskState.TASK_STATE_RUNNING) return;
        tx.update("task", {
          ...t,
          nodeId: a.nodeId,
          status: { ...t.status, state: TaskState.TASK_STATE_ASSIGNED, timestamp: now, message: "scheduler assigned task to node", pendingReason: "" },
        });
      });
    }
    for (const u of d.unplaced) {
      await b.update((tx) => {
        const t = tx.get("task", u.taskId);
        if (!t || t.status?.state !== TaskState.TASK_STATE_PENDING || t.status.pendingReason === u.reason) return;
        tx.update("task", { ...t, status: { ...t.status, pendingReason: u.reason, timestamp: now } });
      });
    }
  });
}

/**
 * What can change a placement: a task waiting to be placed, a task giving back what it held (it
 * ended, or was deleted), any node change. Agents' running reports, by far the most events, cannot.
 */
export function mattersToScheduler(e: StoreEvent): boolean {
  if (e.kind !== "task") return true;
  const now = e.new as Task | undefined;
  const was = e.old as Task | undefined;
  if (now?.status?.state === TaskState.TASK_STATE_PENDING) return true;
  // The same rule the node infos count resources by: a task told to stop holds them until it ends.
  const held = (t: Task | undefined) => !!t && holdsResources(t);
  return held(was) && !held(now);
}

export interface SchedulerOptions {
  /** How long to gather changes before a pass, in ms. */
  batchDelayMs?: number;
  now?: () => number;
  onError?: (e: unknown) => void;
}

export class Scheduler {
  private readonly loop: StoreLoop;

  constructor(
    private readonly store: Store,
    private readonly opts: SchedulerOptions = {},
  ) {
    const batchDelayMs = opts.batchDelayMs ?? 50;
    this.loop = new StoreLoop(store, () => this.pass(), { filter: { kinds: ["task", "node"], match: mattersToScheduler }, batchDelayMs, firstDelayMs: batchDelayMs, onError: opts.onError });
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  /** Runs one pass now (tests, and the loop). */
  async pass(): Promise<Decisions> {
    const d = this.store.view(decide);
    if (d.assigned.length + d.unplaced.length > 0) await commit(this.store, d, (this.opts.now ?? Date.now)());
    return d;
  }
}
