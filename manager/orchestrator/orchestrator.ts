// The orchestrator loop: on any service, task or node change (and when a restart delay ends),
// decides over one consistent read what tasks to create, stop or delete, and writes it back.
import { type Cluster, type Service, type Task, TaskState, UpdateState } from "../../proto/gen/cluster.js";
import { StoreLoop } from "../store/loop.js";
import { byNodeId, byServiceId, type ReadTx, type Store, type StoreEvent, type WatchFilter } from "../store/types.js";
import { type TaskChange, commitChanges, isDead, observed } from "./changes.js";
import { reconcileGlobal } from "./global.js";
import { historyLimit, reap, reapService, servicesWithTasks } from "./reaper.js";
import { reconcileReplicated } from "./replicated.js";
import { nodeLost } from "./restart.js";
import { reconcileUpdate } from "./updater.js";

/**
 * Everything one pass decides. Pure. With `only`, just those services (and their tasks, also of
 * services since deleted) are looked at: what changed since the last pass.
 */
export function decide(tx: ReadTx, now: number, only?: ReadonlySet<string>): TaskChange[] {
  const services = only ? [...only].flatMap((id) => tx.get("service", id) ?? []) : tx.find("service");
  const out = decideServices(tx, now, services);
  const cluster: Cluster | undefined = tx.find("cluster")[0];
  out.push(...reap(tx, historyLimit(cluster), only));
  return out;
}

/** What the given services need (their slots, their updates), without the reaper. Pure. */
export function decideServices(tx: ReadTx, now: number, services: readonly Service[]): TaskChange[] {
  const out: TaskChange[] = [];
  for (const s of services) {
    const mine = s.spec?.mode?.$case === "global" ? reconcileGlobal(tx, s, now) : reconcileReplicated(tx, s, now);
    const touched = new Set(mine.flatMap((c) => (c.op === "update" ? [c.task.id] : [])));
    out.push(...mine, ...reconcileUpdate(tx, s, now, touched));
  }
  return out;
}

/**
 * Most changes, and services, one step of a pass decides before writing them and letting the
 * event loop in: a pass over a hundred services of a thousand replicas each, decided at once,
 * would hold the leader's thread for seconds (past Raft's election timeout).
 */
export const STEP_CHANGES = 5000;
export const STEP_SERVICES = 10;
/**
 * Most tasks the services of one step may have between them (a service with more is a step of
 * its own): ten services of a thousand replicas each were 300–750 ms of one step's read.
 */
export const STEP_TASKS = 2000;

/** When a service's pass is due without any store change (see nextWake), or undefined. */
export function serviceWake(tx: ReadTx, serviceId: string, now: number, resyncMs: number): number | undefined {
  let at: number | undefined;
  for (const t of tx.find("task", byServiceId(serviceId))) {
    const nb = t.status?.restartNotBefore ?? 0;
    if (nb > 0 && t.desiredState < TaskState.TASK_STATE_RUNNING && (at === undefined || nb < at)) at = nb;
  }
  const s = tx.get("service", serviceId);
  const updating = s?.updateStatus?.state === UpdateState.UPDATE_STATE_UPDATING || s?.updateStatus?.state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED;
  if (updating && (at === undefined || at > now + resyncMs)) at = now + resyncMs;
  return at;
}

/**
 * When a pass is due without any store change: a held-back restart's time, or `now + resyncMs`
 * while an update waits on its monitor period or delay. Undefined: nothing is waiting on time.
 */
export function nextWake(tx: ReadTx, now: number, resyncMs: number): number | undefined {
  let at: number | undefined;
  for (const s of tx.find("service")) {
    const w = serviceWake(tx, s.id, now, resyncMs);
    if (w !== undefined && (at === undefined || w < at)) at = w;
  }
  return at;
}

export interface OrchestratorOptions {
  now?: () => number;
  batchDelayMs?: number;
  /** How often to look again while an update waits on time. */
  resyncMs?: number;
  onError?: (e: unknown) => void;
}

export class Orchestrator {
  private readonly loop: StoreLoop;
  /** Services changed since the last pass; `all` after cluster changes and at start. */
  private dirty = new Set<string>();
  private all = true;
  /**
   * Nodes changed since the last pass. A node matters to the global services (one task each) and
   * to the services with tasks on it (lost, drained, back); to no other: 4,000 nodes joining a
   * cluster of 100,000 tasks made a pass over every service and task per join batch.
   */
  private nodes = new Set<string>();
  /** Services waiting on time (restart delays, update monitors), and when. */
  private readonly wakes = new Map<string, number>();
  private unsubscribe?: () => void;
  private readonly filter: WatchFilter = { kinds: ["service", "task", "node", "cluster"], match: (e) => e.kind !== "task" || this.mattersForTask(e) };

  constructor(
    private readonly store: Store,
    private readonly opts: OrchestratorOptions = {},
  ) {
    // Woken by the subscription below, which hears the same events through the same filter.
    this.loop = new StoreLoop(store, () => this.pass(), {
      batchDelayMs: opts.batchDelayMs ?? 50,
      firstDelayMs: 0,
      onError: opts.onError,
      nextWakeMs: () => {
        if (this.wakes.size === 0) return undefined;
        return Math.min(...this.wakes.values()) - (this.opts.now ?? Date.now)();
      },
    });
  }

  start(): void {
    this.all = true;
    // Subscribed before the loop, so the loop's wake-up never runs ahead of what changed.
    this.unsubscribe = this.store.subscribe((events) => {
      for (const e of events) {
        if (e.kind === "service") this.dirty.add((e.new ?? e.old)!.id);
        else if (e.kind === "task") this.dirty.add(((e.new ?? e.old) as Task).serviceId);
        else if (e.kind === "node") this.nodes.add((e.new ?? e.old)!.id);
        else this.all = true;
      }
      this.loop.poke();
    }, this.filter);
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
    this.unsubscribe?.();
  }

  /**
   * Task changes the orchestrator acts on: tasks made or removed, desired states moved, tasks that
   * ended (restart them), and tasks that came up while their service updates (the next batch may
   * go). Agents' other progress reports — most events — wake nothing.
   */
  private mattersForTask(e: StoreEvent): boolean {
    const o = e.old as Task | undefined;
    const n = e.new as Task | undefined;
    if (!o || !n || o.desiredState !== n.desiredState) return true;
    // A task placed on a node changes nothing for its slot (the scheduler's writes, one per
    // task), unless the node was lost before the placement landed.
    if (o.nodeId !== n.nodeId && (o.nodeId !== "" || nodeLost(this.store.view((tx) => tx.get("node", n.nodeId))))) return true;
    if (isDead(n) !== isDead(o)) return true;
    if (observed(n) === TaskState.TASK_STATE_RUNNING && observed(o) !== TaskState.TASK_STATE_RUNNING) {
      const st = this.store.view((tx) => tx.get("service", n.serviceId))?.updateStatus?.state;
      return st === UpdateState.UPDATE_STATE_UPDATING || st === UpdateState.UPDATE_STATE_ROLLBACK_STARTED;
    }
    return false;
  }

  async pass(): Promise<TaskChange[]> {
    const now = (this.opts.now ?? Date.now)();
    const resync = this.opts.resyncMs ?? 1000;
    let only: Set<string> | undefined;
    if (!this.all) {
      only = this.dirty;
      for (const [id, at] of this.wakes) if (at <= now) only.add(id);
      if (this.nodes.size > 0) {
        const scope = only;
        this.store.view((tx) => {
          for (const s of tx.find("service")) if (s.spec?.mode?.$case === "global") scope.add(s.id);
          for (const n of this.nodes) for (const t of tx.find("task", byNodeId(n))) scope.add(t.serviceId);
        });
      }
    }
    this.dirty = new Set();
    this.nodes = new Set();
    this.all = false;
    // A full pass also reaps the tasks of services deleted while no pass saw it (a new leader's).
    const scope = only ?? this.store.view((tx) => new Set([...tx.find("service").map((s) => s.id), ...servicesWithTasks(tx)]));
    const ids = [...scope];
    const changes: TaskChange[] = [];
    const refused = new Set<string>();
    // In steps: each decides and reaps services over a fresh read (seeing the steps before it
    // written) until it has STEP_CHANGES or STEP_SERVICES, and writes them.
    let i = 0;
    for (;;) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      const step = this.store.view((tx) => {
        const out: TaskChange[] = [];
        const limit = historyLimit(tx.find("cluster")[0]);
        let tasks = 0;
        for (const end = i + STEP_SERVICES; i < ids.length && i < end && out.length < STEP_CHANGES; ) {
          const more = tx.count("task", byServiceId(ids[i]));
          if (tasks > 0 && tasks + more > STEP_TASKS) break;
          tasks += more;
          const id = ids[i++];
          const s = tx.get("service", id);
          if (s) out.push(...decideServices(tx, now, [s]));
          out.push(...reapService(tx, id, limit));
        }
        return out;
      });
      try {
        for (const id of await commitChanges(this.store, step)) refused.add(id);
      } catch (err) {
        // Someone wrote meanwhile: look at the same services again.
        for (const id of scope) this.dirty.add(id);
        throw err;
      }
      changes.push(...step);
      if (i >= ids.length) break;
    }
    this.store.view((tx) => {
      if (!only) this.wakes.clear();
      for (const id of scope) {
        const w = serviceWake(tx, id, now, resync);
        if (w === undefined) this.wakes.delete(id);
        else this.wakes.set(id, w);
      }
      // Changes refused for a race: those services are looked at again at once.
      for (const id of refused) this.wakes.set(id, now);
    });
    return changes;
  }
}
