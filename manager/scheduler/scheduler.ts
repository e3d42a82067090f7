// The scheduler loop: watches the store, and when tasks wait or nodes change, runs one pure
// scheduling pass over a consistent read and writes the assignments back in a batch.
import { type Task, TaskState } from "../../proto/gen/cluster.js";
import { writeInChunks } from "../store/chunks.js";
import { StoreLoop } from "../store/loop.js";
import { byTaskState, type ReadTx, type Store, type StoreEvent } from "../store/types.js";
import { portsOfTask } from "./filters.js";
import { Holdings } from "./holdings.js";
import { type NodeInfo, buildNodeInfos, holdsResources } from "./nodeinfo.js";
import { type Assignment, type Decisions, type Unplaced, schedule } from "./placement.js";

/** Tasks the scheduler should place: pending and still meant to run. */
export function pendingTasks(tx: ReadTx): Task[] {
  return tx.find("task", byTaskState(TaskState.TASK_STATE_PENDING)).filter((t) => t.desiredState <= TaskState.TASK_STATE_RUNNING);
}

/**
 * Most tasks one pass places. A pass over 100,000 pending tasks at once holds the leader's thread
 * for seconds (longer than Raft's election timeout); in slices, the next pass sees this one's
 * placements and spreads on from there.
 */
export const PASS_LIMIT = 5000;

/**
 * One scheduling pass over a consistent read, placing at most `limit` tasks. Pure but for
 * `infos` (counted from `tx` when not given), which it updates as it places.
 */
export function decide(tx: ReadTx, limit = Infinity, infos?: Map<string, NodeInfo>, pending = pendingTasks(tx)): Decisions {
  if (pending.length === 0) return { assigned: [], unplaced: [] };
  return schedule(infos ?? buildNodeInfos(tx.find("node"), tx.find("task"), portsOfTask), pending, limit);
}

type Write = { assign: Assignment } | { explain: Unplaced };

/**
 * Writes a pass's decisions, several change sets in flight at once (each task is written once).
 * A task changed since the read (e.g. shut down meanwhile) is left for the next pass; only
 * reasons that changed are written. Resolves with how many decisions could not be written.
 */
export async function commit(store: Store, d: Decisions, now: number): Promise<number> {
  const writes: Write[] = [...d.assigned.map((assign) => ({ assign })), ...d.unplaced.map((explain) => ({ explain }))];
  const { refused } = await writeInChunks(store, writes, (tx, w) => {
    if ("assign" in w) {
      const t = tx.get("task", w.assign.taskId);
      if (!t || t.status?.state !== TaskState.TASK_STATE_PENDING || t.desiredState > TaskState.TASK_STATE_RUNNING) return;
      tx.update("task", {
        ...t,
        nodeId: w.assign.nodeId,
        status: { ...t.status, state: TaskState.TASK_STATE_ASSIGNED, timestamp: now, message: "scheduler assigned task to node", pendingReason: "" },
      });
    } else {
      const t = tx.get("task", w.explain.taskId);
      if (!t || t.status?.state !== TaskState.TASK_STATE_PENDING || t.status.pendingReason === w.explain.reason) return;
      tx.update("task", { ...t, status: { ...t.status, pendingReason: w.explain.reason, timestamp: now } });
    }
  });
  return refused.length;
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
  /** Most tasks one pass places (PASS_LIMIT). */
  passLimit?: number;
}

export class Scheduler {
  private readonly loop: StoreLoop;
  /** The last pass left pending tasks it could have placed: the loop looks again at once. */
  private more = false;
  private readonly holdings = new Holdings();
  private unsubscribe?: () => void;

  constructor(
    private readonly store: Store,
    private readonly opts: SchedulerOptions = {},
  ) {
    const batchDelayMs = opts.batchDelayMs ?? 50;
    this.loop = new StoreLoop(store, () => this.pass(), { filter: { kinds: ["task", "node"], match: mattersToScheduler }, batchDelayMs, firstDelayMs: batchDelayMs, onError: opts.onError, nextWakeMs: () => (this.more ? 0 : undefined) });
  }

  start(): void {
    this.holdings.reset();
    this.unsubscribe = this.store.subscribe((events) => this.holdings.apply(events), { kinds: ["task", "node"] });
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.holdings.reset();
  }

  /** Runs one pass now (tests, and the loop). */
  async pass(): Promise<Decisions> {
    const limit = this.opts.passLimit ?? PASS_LIMIT;
    const d = this.store.view((tx) => {
      const pending = pendingTasks(tx);
      const out = decide(tx, limit, this.holdings.current(tx), pending);
      // Only the placed tasks are looked up: a Map of every pending task cost each pass its size.
      const placed = new Set(out.assigned.map((a) => a.taskId));
      const tasks = new Map<string, Task>();
      for (const t of pending) if (placed.has(t.id)) tasks.set(t.id, t);
      this.holdings.undo(out, tasks);
      // Not started (a pass run by hand): no events keep the counts, so none are kept.
      if (!this.unsubscribe) this.holdings.reset();
      return out;
    });
    // Tasks left for the next pass (the limit, or a write refused) wake no store event of their own.
    this.more = d.assigned.length >= limit;
    if (d.assigned.length + d.unplaced.length > 0) this.more = (await commit(this.store, d, (this.opts.now ?? Date.now)())) > 0 || this.more;
    return d;
  }
}
