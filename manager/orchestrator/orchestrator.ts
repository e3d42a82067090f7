// The orchestrator loop: on any service, task or node change (and when a restart delay ends),
// decides over one consistent read what tasks to create, stop or delete, and writes it back.
import { type Cluster, TaskState, UpdateState } from "../../proto/gen/cluster.js";
import { StoreLoop } from "../store/loop.js";
import type { ReadTx, Store } from "../store/types.js";
import { type TaskChange, commitChanges } from "./changes.js";
import { reconcileGlobal } from "./global.js";
import { historyLimit, reap } from "./reaper.js";
import { reconcileReplicated } from "./replicated.js";
import { reconcileUpdate } from "./updater.js";

/** Everything one pass decides. Pure. */
export function decide(tx: ReadTx, now: number): TaskChange[] {
  const out: TaskChange[] = [];
  for (const s of tx.find("service")) {
    const mine = s.spec?.mode?.$case === "global" ? reconcileGlobal(tx, s, now) : reconcileReplicated(tx, s, now);
    const touched = new Set(mine.flatMap((c) => (c.op === "update" ? [c.task.id] : [])));
    out.push(...mine, ...reconcileUpdate(tx, s, now, touched));
  }
  const cluster: Cluster | undefined = tx.find("cluster")[0];
  out.push(...reap(tx, historyLimit(cluster)));
  return out;
}

/**
 * When a pass is due without any store change: a held-back restart's time, or `now + resyncMs`
 * while an update waits on its monitor period or delay. Undefined: nothing is waiting on time.
 */
export function nextWake(tx: ReadTx, now: number, resyncMs: number): number | undefined {
  let at: number | undefined;
  for (const t of tx.find("task")) {
    const nb = t.status?.restartNotBefore ?? 0;
    if (nb > 0 && t.desiredState < TaskState.TASK_STATE_RUNNING && (at === undefined || nb < at)) at = nb;
  }
  const updating = tx.find("service").some((s) => s.updateStatus?.state === UpdateState.UPDATE_STATE_UPDATING || s.updateStatus?.state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED);
  if (updating && (at === undefined || at > now + resyncMs)) at = now + resyncMs;
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

  constructor(
    private readonly store: Store,
    private readonly opts: OrchestratorOptions = {},
  ) {
    this.loop = new StoreLoop(store, () => this.pass(), {
      filter: { kinds: ["service", "task", "node", "cluster"] },
      batchDelayMs: opts.batchDelayMs ?? 50,
      firstDelayMs: 0,
      onError: opts.onError,
      nextWakeMs: () => {
        const now = (this.opts.now ?? Date.now)();
        const wake = this.store.view((tx) => nextWake(tx, now, this.opts.resyncMs ?? 1000));
        return wake === undefined ? undefined : wake - now;
      },
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  async pass(): Promise<TaskChange[]> {
    const now = (this.opts.now ?? Date.now)();
    const changes = this.store.view((tx) => decide(tx, now));
    await commitChanges(this.store, changes);
    return changes;
  }
}
