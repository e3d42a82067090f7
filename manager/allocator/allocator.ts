// The allocator's pass: read everything once, decide (plan.ts, pure), and write the decisions
// back in one store batch. A new task becomes PENDING (schedulable) only in the same write that
// gives it its addresses. Each object is re-read in its own sub-transaction and written only if
// it still needs what was decided; anything left undone is decided again on the next pass.
import { type Task, TaskState } from "../../proto/gen/cluster.js";
import { byAllocation, type Store, type WatchFilter } from "../store/types.js";
import { DEFAULT_ALLOCATOR_OPTIONS, holdsAddresses, isAllocated, planAllocation, type AllocatorOptions } from "./plan.js";

/**
 * What wakes the allocator: a task to allocate or release, a network, service or node to allocate
 * for. Agents' progress reports on allocated tasks, by far the most events, are neither; nor are
 * tasks on no network (each woke a pass over every task when it was made or deleted). A pass
 * reads only the tasks on some network or still NEW (byAllocation).
 */
export const ALLOCATOR_FILTER: WatchFilter = {
  kinds: ["task", "service", "network", "node"],
  match: (e) => {
    // A node needs an ingress address when it joins and frees it when it goes; its state
    // (ready, down: thousands of writes while nodes join) changes nothing here.
    if (e.kind === "node") return e.action !== "update";
    if (e.kind !== "task") return true;
    const [o, n] = [e.old as Task | undefined, e.new as Task | undefined];
    // A task to allocate (one that needs no address is made PENDING, not NEW), or addresses
    // freed or taken: only a task on some network holds any.
    if (n?.status?.state === TaskState.TASK_STATE_NEW) return true;
    const held = (t: Task | undefined) => !!t && t.networks.length > 0 && holdsAddresses(t);
    return held(o) !== held(n);
  },
};

export interface AllocateOptions extends Partial<AllocatorOptions> {
  log?: (line: string) => void;
}

/** Problems already logged, per store: each is told once while it lasts, not on every pass. */
const told = new WeakMap<Store, Set<string>>();

/** One pass. Returns how many tasks became PENDING. */
export async function allocate(store: Store, now: number, opts: AllocateOptions = {}): Promise<number> {
  const plan = store.view((tx) =>
    planAllocation({ networks: tx.find("network"), services: tx.find("service"), nodes: tx.find("node"), tasks: tx.find("task", byAllocation()) }, now, { ...DEFAULT_ALLOCATOR_OPTIONS, ...opts }),
  );
  const before = told.get(store) ?? new Set<string>();
  for (const p of plan.problems) if (!before.has(p)) opts.log?.(`allocator: ${p}`);
  told.set(store, new Set(plan.problems));

  const skipped = new Set<string>(); // services whose endpoint could not be written: their tasks wait
  let pending = 0;
  await store.batch(async (b) => {
    for (const n of plan.networks) {
      await b.update((tx) => {
        const cur = tx.get("network", n.id);
        if (cur && !isAllocated(cur)) tx.update("network", { ...cur, driverState: n.driverState, ipam: n.ipam });
      });
    }
    for (const s of plan.services) {
      const ok = await b.update((tx) => {
        const cur = tx.get("service", s.id);
        // Decided on another spec: the next pass decides again.
        if (!cur || cur.meta?.version !== s.meta?.version) return false;
        tx.update("service", { ...cur, endpoint: s.endpoint });
        return true;
      });
      if (!ok) skipped.add(s.id);
    }
    for (const n of plan.nodes) {
      await b.update((tx) => {
        const cur = tx.get("node", n.id);
        if (cur && cur.meta?.version === n.meta?.version) tx.update("node", { ...cur, attachments: n.attachments });
      });
    }
    for (const t of plan.tasks) {
      if (skipped.has(t.serviceId)) continue;
      const moved = await b.update((tx) => {
        const cur = tx.get("task", t.id);
        if (!cur || cur.status?.state !== TaskState.TASK_STATE_NEW || cur.desiredState > TaskState.TASK_STATE_RUNNING) return false;
        tx.update("task", { ...cur, networks: t.networks, endpoint: t.endpoint, status: t.status });
        return t.status?.state === TaskState.TASK_STATE_PENDING;
      });
      if (moved) pending++;
    }
  });
  return pending;
}
