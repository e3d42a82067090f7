// The Raft store's log encoding of a change set. Two task writes in three (the scheduler placing
// a task, an agent reporting it running) change only its node, desired state and status, yet the
// whole task (spec, annotations, networks) was encoded by the leader and decoded by every member
// each time. Such an update travels as a TaskPatch instead, and each member rebuilds the whole
// update from the task it holds at the version the writer read, before applying it. The rebuilt
// change set is the one the writer proposed, so apply (and every check it makes) is unchanged.
// Tasks created together from one spec (a service's replicas, the orchestrator's batch of 200)
// hold the same spec object: it is encoded once for all of them, and every member decodes it
// once, so its followers' tasks share it as the leader's do.
import { type ChangeSet, RaftChangeSet, type SharedTaskSpec, StoreActionKind, type StoreAction, type Task, type TaskPatch, type TaskSpec } from "../../proto/gen/cluster.js";
import type { Source } from "./tx.js";

/** What a patch is made against and rebuilt from: the committed store. */
type Holder = Pick<Source, "get">;

/** The fields a patch leaves as the stored task has them: all but id, meta and the patched three. */
const KEPT = ["serviceId", "slot", "spec", "specVersion", "networks", "assignedGenericResources", "endpoint", "annotations"] as const satisfies readonly (keyof Task)[];

/**
 * A change set's bytes for the log. An update becomes a patch only when the stored task is the
 * version the writer read and every kept field is that stored task's own (the writer spread it):
 * the rebuilt update is then the same task. Anything else is encoded whole, as before.
 */
export function encodeChangeSet(cs: ChangeSet, store: Holder): Uint8Array {
  let patches: TaskPatch[] | undefined;
  let actions: StoreAction[] | undefined;
  // Per spec object, the creates holding it: [position in cs.actions, position in actions].
  const creates = new Map<TaskSpec, [number, number][]>();
  for (let i = 0; i < cs.actions.length; i++) {
    const a = cs.actions[i];
    const patch = a.action === StoreActionKind.STORE_ACTION_UPDATE && a.target?.$case === "task" ? patchOf(a.target.value, store, i) : undefined;
    if (patch) {
      patches ??= [];
      actions ??= cs.actions.slice(0, i);
      patches.push(patch);
      continue;
    }
    actions?.push(a);
    const spec = a.action === StoreActionKind.STORE_ACTION_CREATE && a.target?.$case === "task" ? a.target.value.spec : undefined;
    if (!spec) continue;
    let held = creates.get(spec);
    if (!held) creates.set(spec, (held = []));
    held.push([i, actions ? actions.length - 1 : i]);
  }
  const shared: SharedTaskSpec[] = [];
  for (const [spec, held] of creates) {
    if (held.length < 2) continue;
    actions ??= cs.actions.slice();
    for (const [, out] of held) {
      const a = actions[out] as StoreAction & { target: { $case: "task"; value: Task } };
      actions[out] = { action: a.action, target: { $case: "task", value: { ...a.target.value, spec: undefined } } };
    }
    shared.push({ spec, at: held.map(([at]) => at) });
  }
  return RaftChangeSet.encode({ actions: actions ?? cs.actions, timestamp: cs.timestamp, taskPatches: patches ?? [], sharedSpecs: shared }).finish();
}

function patchOf(t: Task, store: Holder, at: number): TaskPatch | undefined {
  const base = store.get("task", t.id) as Task | undefined;
  const version = t.meta?.version ?? 0;
  if (!base || (base.meta?.version ?? 0) !== version) return undefined;
  for (const k of KEPT) if (base[k] !== t[k]) return undefined;
  return { at, id: t.id, version, nodeId: t.nodeId, desiredState: t.desiredState, status: t.status };
}

/** The change set a log entry holds, its patches rebuilt from `store` as it stands before the entry's apply. */
export function decodeChangeSet(data: Uint8Array, store: Holder): ChangeSet {
  const { actions, timestamp, taskPatches, sharedSpecs } = RaftChangeSet.decode(data);
  // Patches are in the order of their positions, so each lands where the writer had it.
  for (const p of taskPatches) actions.splice(p.at, 0, { action: StoreActionKind.STORE_ACTION_UPDATE, target: { $case: "task", value: rebuild(p, store) } });
  for (const { spec, at } of sharedSpecs) {
    for (const i of at) {
      const target = actions[i]?.target;
      if (target?.$case !== "task") throw new Error(`log entry's shared task spec names action ${i}, which is not a task`);
      target.value.spec = spec;
    }
  }
  return { actions, timestamp };
}

function rebuild(p: TaskPatch, store: Holder): Task {
  const base = store.get("task", p.id) as Task | undefined;
  if (base && (base.meta?.version ?? 0) === p.version) return { ...base, nodeId: p.nodeId, desiredState: p.desiredState, status: p.status };
  // Gone or written since the writer read it: a task with only the version read, which apply
  // refuses as it would have refused the whole one (not found, or a version conflict).
  return { ...(base ?? emptyTask(p.id)), meta: { version: p.version, createdAt: 0, updatedAt: 0 } };
}

function emptyTask(id: string): Task {
  return { id, serviceId: "", slot: 0, nodeId: "", specVersion: 0, desiredState: 0, networks: [], assignedGenericResources: [] };
}
